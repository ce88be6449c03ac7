"""TLS ClientHello: SNI, ALPN and what JA3/JA4 hash, from a client stream over records.

Values are kept as sent (GREASE included, extensions in wire order):
:mod:`monitor.decode.tls_fingerprints` drops GREASE where each method says.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.decode.dns import normalize_name

CONTENT_HANDSHAKE = 22
HANDSHAKE_CLIENT_HELLO = 1
EXT_SERVER_NAME = 0
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_ALPN = 16
EXT_SUPPORTED_VERSIONS = 43
EXT_ECH = 0xFE0D

_CONTENT_TYPES = frozenset({20, 21, 22, 23, 24})  # ccs, alert, handshake, data, heartbeat
_MAX_RECORD = 16384 + 2048  # TLSCiphertext limit, RFC 8446 §5.2
_MAX_HELLO = 1 << 16  # larger ClientHellos are not plausible; stop buffering
_MAX_ALPN = 16
_PROXY_V2 = b"\r\n\r\n\x00\r\nQUIT\n"
_MAX_LIST = 512  # entries kept of a cipher/extension/group list (a hello has dozens at most)

_NOT_TLS = 0
_NEED_MORE = 1
_COMPLETE = 2


@dataclass(frozen=True, slots=True)
class ClientHello:
    """What a ClientHello says; ``complete`` is False when only a prefix was available."""

    legacy_version: int
    sni: str | None
    alpn: tuple[str, ...]
    supported_versions: tuple[int, ...]
    has_ech: bool
    complete: bool
    ciphers: tuple[int, ...] = ()
    extensions: tuple[int, ...] = ()  # extension types in wire order
    groups: tuple[int, ...] = ()  # supported_groups (elliptic curves)
    point_formats: tuple[int, ...] = ()
    signature_algorithms: tuple[int, ...] = ()
    alpn_first: bytes = b""  # the first ALPN value as sent (JA4 reads its bytes)


def record_header_ok(head: bytes) -> bool:
    """True if ``head`` (1 to 5 bytes) can start a TLS record of any content type."""
    if head[0] not in _CONTENT_TYPES:
        return False
    if len(head) >= 2 and head[1] != 3:
        return False
    if len(head) >= 3 and head[2] > 4:
        return False
    return len(head) < 5 or 0 < ((head[3] << 8) | head[4]) <= _MAX_RECORD


def is_tls_record_start(data: bytes) -> bool:
    """True when ``data`` begins like a TLS/SSLv3 record header (needs at least 3 bytes)."""
    return len(data) >= 3 and record_header_ok(data[:5])


def proxy_header_length(data: bytes) -> int:
    """Bytes of a PROXY protocol header (v1 text or v2 binary, as load balancers put before
    the client's own bytes) at the start of ``data``; 0 without one."""
    if data.startswith(b"PROXY "):
        end = data.find(b"\r\n", 0, 108)  # v1 lines are at most 107 bytes
        return end + 2 if end > 0 else 0
    if data.startswith(_PROXY_V2) and len(data) >= 16:
        return 16 + int.from_bytes(data[14:16], "big")
    return 0


def is_starttls_request(data: bytes) -> bool:
    """Whether a client's line asks to switch to TLS (SMTP/IMAP/POP3/FTP/XMPP STARTTLS)."""
    if len(data) > 64:
        return False
    line = data.upper()
    return b"STARTTLS" in line or line.startswith((b"STLS", b"AUTH TLS", b"AUTH SSL"))


def tls_stream_start(data: bytes) -> bool:
    """Whether a stream's first bytes (even only one or two) can begin a TLS record."""
    return bool(data) and record_header_ok(data[:5])


def is_sslv2_client_hello(data: bytes) -> bool:
    """True when ``data`` begins with an SSL 2.0-format ClientHello offering SSL 3.0 or TLS
    (old clients send it to reach any server; it has no extensions, so no SNI)."""
    return len(data) >= 5 and data[0] & 0x80 != 0 and data[2] == 1 and data[3] == 3


def _gather_handshake(stream: bytes) -> tuple[int, bytes]:
    """Collect the first handshake message from consecutive handshake records.

    Returns a status (not a ClientHello / need more bytes / complete) and the handshake
    bytes gathered so far (the message header included).
    """
    out = bytearray()
    need = -1
    pos = 0
    size = len(stream)
    while True:
        if size - pos < 5:
            head = stream[pos:]
            if head and (head[0] != CONTENT_HANDSHAKE or not record_header_ok(head)):
                return _NOT_TLS, bytes(out)
            return (_NEED_MORE if size else _NOT_TLS), bytes(out)
        head = stream[pos : pos + 5]
        if head[0] != CONTENT_HANDSHAKE or not record_header_ok(head):
            return _NOT_TLS, bytes(out)
        length = (head[3] << 8) | head[4]
        chunk = stream[pos + 5 : pos + 5 + length]
        out += chunk
        pos += 5 + len(chunk)
        if out and out[0] != HANDSHAKE_CLIENT_HELLO:
            return _NOT_TLS, bytes(out)
        if need < 0 and len(out) >= 4:
            need = 4 + int.from_bytes(out[1:4], "big")
            if need > _MAX_HELLO:
                return _NOT_TLS, bytes(out)
        if need >= 0 and len(out) >= need:
            return _COMPLETE, bytes(out[:need])
        if len(chunk) < length:
            return _NEED_MORE, bytes(out)


def client_hello_incomplete(stream: bytes) -> bool:
    """True when ``stream`` starts like handshake records carrying a ClientHello that is cut.

    The caller concatenates the client's segment payloads in order and calls again; the
    hello may span several TCP segments and several TLS records.
    """
    return _gather_handshake(stream)[0] == _NEED_MORE


def parse_client_hello(stream: bytes) -> ClientHello | None:
    """Parse the ClientHello at the start of a client stream (TLS records).

    A cut hello is parsed as far as it goes (``complete=False``): an SNI that is already
    present is returned, even if later extensions are still missing.
    """
    status, message = _gather_handshake(stream)
    if status == _NOT_TLS:
        return None
    return parse_client_hello_message(message)


def client_hello_sni(stream: bytes) -> str | None:
    """The first ``host_name`` of the server_name extension, normalised, or None."""
    hello = parse_client_hello(stream)
    return hello.sni if hello is not None else None


def client_hello_alpn(stream: bytes) -> tuple[str, ...]:
    """The ALPN protocol names offered by the client (may be empty)."""
    hello = parse_client_hello(stream)
    return hello.alpn if hello is not None else ()


def _skip_vector(msg: bytes, pos: int, width: int, end: int) -> int:
    """Offset after a vector with a ``width``-byte length at ``pos``, or -1 if cut."""
    if pos + width > end:
        return -1
    length = int.from_bytes(msg[pos : pos + width], "big")
    nxt = pos + width + length
    return nxt if nxt <= end else -1


def parse_client_hello_message(msg: bytes) -> ClientHello | None:
    """Parse a handshake message (type, 3-byte length, body) holding a ClientHello.

    Used directly for QUIC, whose CRYPTO frames carry handshake messages without records.
    None when it is not a ClientHello or is cut before the extensions start.
    """
    if len(msg) < 4 or msg[0] != HANDSHAKE_CLIENT_HELLO:
        return None
    declared = 4 + int.from_bytes(msg[1:4], "big")
    end = min(len(msg), declared)
    pos = 4 + 2 + 32  # legacy_version, random
    if pos + 1 > end or msg[pos] > 32:
        return None
    pos = _skip_vector(msg, pos, 1, end)  # session id
    suites_at = pos
    pos = _skip_vector(msg, pos, 2, end) if pos >= 0 else -1  # cipher suites
    pos = _skip_vector(msg, pos, 1, end) if pos >= 0 else -1  # compression methods
    if pos < 0:
        return None
    version = (msg[4] << 8) | msg[5]
    complete = len(msg) >= declared
    ciphers = _u16_vector(msg[suites_at:end])
    if pos + 2 > end:  # no extensions at all (SSLv3 / TLS 1.0 era), or cut right here
        return ClientHello(version, None, (), (), False, complete and pos == end, ciphers)
    ext_end = pos + 2 + int.from_bytes(msg[pos : pos + 2], "big")
    complete = complete and ext_end == declared  # extensions end the message, or it is bad
    return _parse_extensions(msg, pos + 2, min(ext_end, end), version, complete, ciphers)


def u16_list(data: bytes) -> tuple[int, ...]:
    """Big-endian 16-bit values (a trailing odd byte is ignored), at most _MAX_LIST."""
    n = min(len(data) // 2, _MAX_LIST)
    return tuple((data[2 * i] << 8) | data[2 * i + 1] for i in range(n))


def _u16_vector(data: bytes) -> tuple[int, ...]:
    """The 16-bit values of a vector with a 2-byte length (cut to what is there)."""
    if len(data) < 2:
        return ()
    return u16_list(data[2 : 2 + ((data[0] << 8) | data[1])])


def _parse_extensions(
    msg: bytes, pos: int, end: int, version: int, complete: bool, ciphers: tuple[int, ...]
) -> ClientHello:
    """The extensions block: kept by type in wire order, the ones JA3/JA4 read decoded."""
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    alpn_first = b""
    versions: tuple[int, ...] = ()
    ech = False
    types: list[int] = []
    lists: dict[int, tuple[int, ...]] = {}
    while pos + 4 <= end and len(types) < _MAX_LIST:
        ext_type = (msg[pos] << 8) | msg[pos + 1]
        ext_len = (msg[pos + 2] << 8) | msg[pos + 3]
        pos += 4
        if pos + ext_len > end:
            break
        types.append(ext_type)
        data = msg[pos : pos + ext_len]
        pos += ext_len
        if ext_type == EXT_SERVER_NAME and sni is None:
            sni = _server_name(data)
        elif ext_type == EXT_ALPN:
            alpn = _alpn(data)
            alpn_first = data[3 : 3 + data[2]] if len(data) >= 3 else b""
        elif ext_type == EXT_SUPPORTED_VERSIONS and data:
            versions = tuple(
                (data[i] << 8) | data[i + 1] for i in range(1, min(len(data), 1 + data[0]) - 1, 2)
            )
        elif ext_type in (EXT_SUPPORTED_GROUPS, EXT_SIGNATURE_ALGORITHMS):
            lists[ext_type] = _u16_vector(data)
        elif ext_type == EXT_EC_POINT_FORMATS and data:
            lists[ext_type] = tuple(data[1 : 1 + data[0]])
        elif ext_type == EXT_ECH:
            ech = True
    return ClientHello(
        version, sni, alpn, versions, ech, complete, ciphers, tuple(types),
        lists.get(EXT_SUPPORTED_GROUPS, ()), lists.get(EXT_EC_POINT_FORMATS, ()),
        lists.get(EXT_SIGNATURE_ALGORITHMS, ()), alpn_first,
    )  # fmt: skip


def _server_name(data: bytes) -> str | None:
    if len(data) < 2:
        return None
    end = min(len(data), 2 + ((data[0] << 8) | data[1]))
    pos = 2
    while pos + 3 <= end:
        name_type = data[pos]
        length = (data[pos + 1] << 8) | data[pos + 2]
        raw = data[pos + 3 : pos + 3 + length]
        if len(raw) != length:
            return None
        if name_type == 0:
            return normalize_name(raw.decode("ascii")) if raw.isascii() else None
        pos += 3 + length
    return None


def _alpn(data: bytes) -> tuple[str, ...]:
    if len(data) < 2:
        return ()
    end = min(len(data), 2 + ((data[0] << 8) | data[1]))
    pos = 2
    names: list[str] = []
    while pos < end and len(names) < _MAX_ALPN:
        length = data[pos]
        raw = data[pos + 1 : pos + 1 + length]
        if len(raw) != length or not length:
            break
        names.append(raw.decode("ascii", "replace"))
        pos += 1 + length
    return tuple(names)
