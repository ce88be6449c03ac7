"""QUIC Initial packets: derive the Initial keys, decrypt, and read the ClientHello (and the
ServerHello of the server's Initial, whose keys come from the client's first DCID)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from monitor.decode.tls import ClientHello, parse_client_hello_message

QUIC_V1 = 0x00000001
QUIC_V2 = 0x6B3343CF

_SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")  # RFC 9001 §5.2
_SALT_V2 = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")  # RFC 9369 §3.3.1
_SALT_D29 = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")  # drafts 29-32
_SALT_D23 = bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502")  # drafts 23-28
_SALT_T50 = bytes.fromhex("7ff579e5acd072915580304c43a2367c60488310")  # Google QUIC T050
_SALT_T51 = bytes.fromhex("7a4edef4e7ccee5fa4506c19124fc8ccda6e033d")  # Google QUIC T051

# version -> (salt, label prefix, long-header type bits of an Initial, CRYPTO frame type);
# the versions Wireshark decrypts (drafts 33-34 took the v1 salt; mvfst's drafts 27's).
_VERSIONS: dict[int, tuple[bytes, str, int, int]] = {
    QUIC_V1: (_SALT_V1, "quic", 0, 6),
    QUIC_V2: (_SALT_V2, "quicv2", 1, 6),
    **{0xFF000000 | d: (_SALT_V1, "quic", 0, 6) for d in range(33, 35)},
    **{0xFF000000 | d: (_SALT_D29, "quic", 0, 6) for d in range(29, 33)},
    **{0xFF000000 | d: (_SALT_D23, "quic", 0, 6) for d in range(23, 29)},
    0xFACEB002: (_SALT_D23, "quic", 0, 6),
    0xFACEB00E: (_SALT_D23, "quic", 0, 6),
    0x54303530: (_SALT_T50, "quic", 0, 8),  # gQUIC with TLS numbers CRYPTO frames 0x08
    0x54303531: (_SALT_T51, "quic", 0, 8),
}


def _version(version: int) -> tuple[bytes, str, int, int] | None:
    """How to read ``version``: a reserved version (0x?a?a?a?a, sent to force version
    negotiation) is read with draft 29's salt, as Wireshark 4.0 reads unknown versions (and
    as the clients in nDPI's test captures protect them)."""
    known = _VERSIONS.get(version)
    if known is None and version & 0x0F0F0F0F == 0x0A0A0A0A:
        return _VERSIONS[0xFF00001D]
    return known


_MAX_CID = 20
_MAX_CRYPTO = 1 << 16  # bytes of ClientHello reassembled at most
_MAX_COALESCED = 4
_TAG_LEN = 16


@dataclass(frozen=True, slots=True)
class QuicInitial:
    """A decrypted client Initial: its CRYPTO fragments as (offset, data) in packet order.

    ``authenticated`` is False when the datagram was cut (snaplen) and the available
    ciphertext was decrypted without checking the AEAD tag.
    """

    version: int
    dcid: bytes
    scid: bytes
    packet_number: int
    crypto: tuple[tuple[int, bytes], ...]
    authenticated: bool = True

    def client_hello(self) -> ClientHello | None:
        """The ClientHello reassembled from this packet's CRYPTO frames (may be partial)."""
        return parse_client_hello_message(reassemble_crypto(self.crypto))


def _hkdf_expand_label(secret: bytes, label: str, length: int) -> bytes:
    full = b"tls13 " + label.encode("ascii")
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    return hmac.new(secret, info + b"\x01", hashlib.sha256).digest()[:length]  # length <= 32


def initial_secrets(
    version: int, dcid: bytes, server: bool = False
) -> tuple[bytes, bytes, bytes, bytes] | None:
    """Client (or ``server``) (secret, key, iv, hp) for ``version`` and the client's first
    DCID (RFC 9001 §5.2)."""
    known = _version(version)
    if known is None:
        return None
    salt, prefix = known[0], known[1]
    initial = hmac.new(salt, dcid, hashlib.sha256).digest()
    secret = _hkdf_expand_label(initial, "server in" if server else "client in", 32)
    key = _hkdf_expand_label(secret, f"{prefix} key", 16)
    iv = _hkdf_expand_label(secret, f"{prefix} iv", 12)
    hp = _hkdf_expand_label(secret, f"{prefix} hp", 16)
    return secret, key, iv, hp


@lru_cache(maxsize=512)
def _keys(version: int, dcid: bytes, server: bool) -> tuple[AESGCM, bytes, bytes, bytes] | None:
    secrets = initial_secrets(version, dcid, server)
    if secrets is None:
        return None
    _, key, iv, hp = secrets
    return AESGCM(key), key, iv, hp


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, next offset) of a QUIC variable-length integer; (-1, -1) when cut."""
    if pos >= len(buf):
        return -1, -1
    size = 1 << (buf[pos] >> 6)
    if pos + size > len(buf):
        return -1, -1
    value = buf[pos] & 0x3F
    for i in range(1, size):
        value = (value << 8) | buf[pos + i]
    return value, pos + size


@dataclass(frozen=True, slots=True)
class _Header:
    start: int
    version: int
    is_initial: bool
    dcid: bytes
    scid: bytes
    pn_offset: int
    end: int  # declared end of this packet (may exceed the datagram when cut)


def _long_header(buf: bytes, start: int) -> _Header | None:
    if start + 7 > len(buf) or not buf[start] & 0x80:
        return None
    version = int.from_bytes(buf[start + 1 : start + 5], "big")
    known = _version(version)
    pos = start + 5
    dcid_len = buf[pos]
    dcid = buf[pos + 1 : pos + 1 + dcid_len]
    pos += 1 + dcid_len
    if dcid_len > _MAX_CID or pos >= len(buf) or buf[pos] > _MAX_CID:
        return None
    scid = buf[pos + 1 : pos + 1 + buf[pos]]
    pos += 1 + buf[pos]
    if known is None:
        return None  # version negotiation, unknown version: cannot read further
    packet_type = (buf[start] >> 4) & 0x3
    is_initial = packet_type == known[2]
    if is_initial:
        token_len, pos = _varint(buf, pos)
        if token_len < 0:
            return None
        pos += token_len
    elif packet_type == (known[2] + 3) % 4:  # Retry carries no Length field
        return None
    length, pos = _varint(buf, pos)
    if length < 0:
        return None
    return _Header(start, version, is_initial, dcid, scid, pos, pos + length)


def _remove_protection(buf: bytes, hdr: _Header, hp: bytes) -> tuple[bytes, int, int] | None:
    """(unprotected header, packet number, offset of the payload) or None."""
    sample = buf[hdr.pn_offset + 4 : hdr.pn_offset + 20]
    if len(sample) < 16:
        return None
    encryptor = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = encryptor.update(sample) + encryptor.finalize()
    first = buf[hdr.start] ^ (mask[0] & 0x0F)
    pn_len = (first & 0x03) + 1
    pn_raw = buf[hdr.pn_offset : hdr.pn_offset + pn_len]
    pn_bytes = bytes(b ^ m for b, m in zip(pn_raw, mask[1 : 1 + pn_len], strict=True))
    header = bytes([first]) + buf[hdr.start + 1 : hdr.pn_offset] + pn_bytes
    return header, int.from_bytes(pn_bytes, "big"), hdr.pn_offset + pn_len


def _decrypt(
    buf: bytes, hdr: _Header, key_dcid: bytes | None, server: bool
) -> tuple[bytes, int, bool] | None:
    """(plaintext, packet number, authenticated) of a client's (``server``: a server's)
    Initial whose keys come from ``key_dcid`` (default: the packet's DCID), or None."""
    keys = _keys(hdr.version, hdr.dcid if key_dcid is None else key_dcid, server)
    if keys is None:
        return None
    aead, key, iv, hp = keys
    unprotected = _remove_protection(buf, hdr, hp)
    if unprotected is None:
        return None
    header, pn, payload_at = unprotected
    nonce = (int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big")
    if hdr.end <= len(buf):
        if hdr.end - payload_at < _TAG_LEN:
            return None
        try:
            return aead.decrypt(nonce, buf[payload_at : hdr.end], header), pn, True
        except InvalidTag:
            return None
    # Cut datagram: GCM is CTR mode from counter 2; decrypt what is there, unauthenticated.
    counter = Cipher(algorithms.AES(key), modes.CTR(nonce + b"\x00\x00\x00\x02")).decryptor()
    return counter.update(buf[payload_at:]) + counter.finalize(), pn, False


def _skip_ack(buf: bytes, pos: int, ecn: bool) -> int:
    _, pos = _varint(buf, pos)  # largest acknowledged
    _, pos = _varint(buf, pos) if pos >= 0 else (-1, -1)  # ack delay
    count, pos = _varint(buf, pos) if pos >= 0 else (-1, -1)
    _, pos = _varint(buf, pos) if pos >= 0 else (-1, -1)  # first range
    for _ in range(2 * count + (3 if ecn else 0)):
        if pos < 0:
            break
        _, pos = _varint(buf, pos)
    return pos


def _crypto_frames(plain: bytes, crypto_type: int = 6) -> list[tuple[int, bytes]]:
    """CRYPTO fragments of an Initial payload; stops at anything an Initial cannot hold."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    size = len(plain)
    while 0 <= pos < size:
        frame = plain[pos]
        if frame == 0x00:  # PADDING, usually a long run
            pos = size - len(plain[pos:].lstrip(b"\x00"))
        elif frame == 0x01:  # PING
            pos += 1
        elif frame in (0x02, 0x03):  # ACK, ACK with ECN counts
            pos = _skip_ack(plain, pos + 1, frame == 0x03)
        elif frame == crypto_type:  # CRYPTO
            offset, pos = _varint(plain, pos + 1)
            length, pos = _varint(plain, pos) if pos >= 0 else (-1, -1)
            if pos < 0:
                break
            out.append((offset, plain[pos : pos + length]))
            pos += length
        else:  # CONNECTION_CLOSE or a frame not allowed in Initial packets
            break
    return out


def reassemble_crypto(fragments: Iterable[tuple[int, bytes]]) -> bytes:
    """The contiguous CRYPTO stream from offset 0 (fragments may overlap or come out of order)."""
    buf = bytearray()
    for offset, data in sorted(fragments, key=lambda item: item[0]):
        if offset > len(buf) or len(buf) >= _MAX_CRYPTO:
            break
        if offset + len(data) > len(buf):
            buf += data[len(buf) - offset :]
    return bytes(buf[:_MAX_CRYPTO])


def parse_quic_initial(
    datagram: bytes, key_dcid: bytes | None = None, server: bool = False
) -> QuicInitial | None:
    """Decrypt the first Initial in a UDP datagram (coalesced packets are walked): a
    client's, or a ``server``'s. Initial keys come from the client's first DCID
    (``key_dcid``; by default the packet's own DCID, right for a client's first Initial)."""
    hdr = _first_initial(datagram)
    if hdr is None:
        return None
    opened = _decrypt(datagram, hdr, key_dcid, server)
    if opened is None:
        return None
    plain, pn, authenticated = opened
    crypto = tuple(_crypto_frames(plain, _version(hdr.version)[3]))  # type: ignore[index]
    return QuicInitial(hdr.version, hdr.dcid, hdr.scid, pn, crypto, authenticated)


def _first_initial(datagram: bytes) -> _Header | None:
    """The header of the first Initial among a datagram's coalesced long-header packets."""
    start = 0
    for _ in range(_MAX_COALESCED):
        hdr = _long_header(datagram, start)
        if hdr is None:
            return None
        if hdr.is_initial:
            return hdr
        start = hdr.end
    return None


def quic_initial_sni(datagram: bytes) -> str | None:
    """SNI of the ClientHello carried by the client Initial in ``datagram``, or None."""
    initial = parse_quic_initial(datagram)
    if initial is None:
        return None
    hello = initial.client_hello()
    return hello.sni if hello is not None else None


def quic_initials_sni(datagrams: Iterable[bytes]) -> str | None:
    """SNI from a ClientHello split over several Initial datagrams (same DCID)."""
    fragments: list[tuple[int, bytes]] = []
    dcid: bytes | None = None
    for datagram in datagrams:
        initial = parse_quic_initial(datagram)
        if initial is None or (dcid is not None and initial.dcid != dcid):
            continue
        dcid = initial.dcid
        fragments.extend(initial.crypto)
    hello = parse_client_hello_message(reassemble_crypto(fragments))
    return hello.sni if hello is not None else None


def initial_dcid(datagram: bytes) -> bytes | None:
    """The DCID of the first Initial packet in a datagram (header only, nothing decrypted):
    a client that got a Retry sends its hello again under a new one."""
    hdr = _first_initial(datagram)
    return None if hdr is None else hdr.dcid
