"""The server's first flight of a TLS handshake: ServerHello and, up to TLS 1.2, the leaf
of its Certificate message (TLS 1.3 encrypts the certificate).

The caller keeps the server's byte stream (in sequence order, bounded) and calls
:func:`read_server_flight` again as it grows; the flight is read from the start each
time, so messages may span records and segments.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.decode.tls import CONTENT_HANDSHAKE, EXT_SUPPORTED_VERSIONS, record_header_ok
from monitor.decode.tls_fingerprints import ServerHello

CONTENT_ALERT = 21
HANDSHAKE_SERVER_HELLO = 2
HANDSHAKE_CERTIFICATE = 11
# messages that come after the Certificate, or instead of one (anonymous, PSK, resumption)
_AFTER_CERTIFICATE = frozenset({12, 13, 14, 16, 20})
_MORE, _ENDED, _NOT_TLS = 0, 1, 2


@dataclass(frozen=True, slots=True)
class ServerFlight:
    """What the server's stream showed so far.

    ``leaf`` is the DER bytes of the first certificate; ``done`` says nothing more worth
    reading can follow (the leaf was read, TLS 1.3 was chosen, the server went on without
    a certificate, or the stream is not TLS); ``malformed`` that it is not a TLS stream
    or its ServerHello cannot be read.
    """

    hello: ServerHello | None
    leaf: bytes | None
    done: bool
    malformed: bool = False


def parse_server_hello(body: bytes) -> ServerHello | None:
    """A ServerHello's body (after the 4-byte message header), or None when unreadable."""
    if len(body) < 2 + 32 + 1:
        return None
    pos = 34 + 1 + body[34]  # legacy_version, random, session id
    if pos + 3 > len(body):
        return None
    cipher = (body[pos] << 8) | body[pos + 1]
    pos += 3  # cipher suite, compression method
    extensions: list[int] = []
    selected: int | None = None
    if pos + 2 <= len(body):
        end = min(pos + 2 + ((body[pos] << 8) | body[pos + 1]), len(body))
        pos += 2
        while pos + 4 <= end:
            ext_type = (body[pos] << 8) | body[pos + 1]
            ext_len = (body[pos + 2] << 8) | body[pos + 3]
            if pos + 4 + ext_len > end:
                break
            extensions.append(ext_type)
            if ext_type == EXT_SUPPORTED_VERSIONS and ext_len == 2:
                selected = (body[pos + 4] << 8) | body[pos + 5]
            pos += 4 + ext_len
    legacy = (body[0] << 8) | body[1]
    return ServerHello(legacy, cipher, tuple(extensions), selected)


def _handshake(stream: bytes) -> tuple[bytes, int]:
    """The handshake bytes of the stream's leading handshake records, and whether more
    may come (``_MORE``), a record of another type ended them, or it is no TLS."""
    out = bytearray()
    pos = 0
    while pos < len(stream):
        head = stream[pos : pos + 5]
        if not record_header_ok(head):
            return bytes(out), _NOT_TLS if pos == 0 else _ENDED
        if len(head) < 5:
            break
        length = (head[3] << 8) | head[4]
        if head[0] == CONTENT_ALERT and stream[pos + 5 : pos + 6] == b"\x01":
            pos += 5 + length  # a warning (say, unrecognized_name) before the hello
            continue
        if head[0] != CONTENT_HANDSHAKE:
            return bytes(out), _ENDED
        out += stream[pos + 5 : pos + 5 + length]
        pos += 5 + length
    return bytes(out), _MORE


def _leaf(body: bytes) -> bytes | None:
    """The first certificate of a (TLS 1.2) Certificate body; b"" for an empty list; None
    while it is not all there."""
    if len(body) < 3:
        return None
    if not int.from_bytes(body[:3], "big"):
        return b""
    if len(body) < 6:
        return None
    size = int.from_bytes(body[3:6], "big")
    return body[6 : 6 + size] if len(body) >= 6 + size else None


def read_server_flight(stream: bytes) -> ServerFlight:
    """Read the server's first flight from the start of its stream (see the module doc)."""
    messages, status = _handshake(stream)
    hello: ServerHello | None = None
    pos = 0
    while pos + 4 <= len(messages):
        kind = messages[pos]
        length = int.from_bytes(messages[pos + 1 : pos + 4], "big")
        body = messages[pos + 4 : pos + 4 + length]
        whole = len(body) == length
        if kind == HANDSHAKE_SERVER_HELLO and whole:
            hello = parse_server_hello(body)
            if hello is None:
                return ServerFlight(None, None, True, True)
            if hello.selected_version is not None and hello.selected_version > 0x0303:
                return ServerFlight(hello, None, True)  # TLS 1.3: the rest is encrypted
        elif kind == HANDSHAKE_CERTIFICATE:
            leaf = _leaf(body)
            if leaf is not None:
                return ServerFlight(hello, leaf or None, True)
        elif kind in _AFTER_CERTIFICATE:
            return ServerFlight(hello, None, True)
        if not whole:
            break
        pos += 4 + length
    if status == _NOT_TLS:
        return ServerFlight(None, None, True, True)
    return ServerFlight(hello, None, status == _ENDED)
