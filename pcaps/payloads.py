"""Application payloads for the sample captures: TLS, QUIC, DNS, NTP, RTP and vendor protocols.

Everything random comes from the caller's seeded ``random.Random``.
"""

from __future__ import annotations

import random
import struct

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRSOA

# --- TLS ----------------------------------------------------------------------------------


def _ext(etype: int, body: bytes) -> bytes:
    return struct.pack("!HH", etype, len(body)) + body


def _vec(body: bytes, width: int = 2) -> bytes:
    return len(body).to_bytes(width, "big") + body


def client_hello(
    rng: random.Random, sni: str | None, alpn: tuple[str, ...] = (), quic_scid: bytes | None = None
) -> bytes:
    """A TLS 1.3 ClientHello handshake message (no record header); QUIC when ``quic_scid``."""
    quic = quic_scid is not None
    suites = [0x1301, 0x1302, 0x1303] + (
        [] if quic else [0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0x009C, 0x009D]
    )
    exts = b""
    if sni:
        exts += _ext(0, _vec(b"\x00" + _vec(sni.encode())))
    exts += _ext(10, _vec(bytes.fromhex("001d00170018")))
    if not quic:
        exts += _ext(11, _vec(b"\x00", 1))
    exts += _ext(13, _vec(bytes.fromhex("040308040401050308050501080606010201")))
    if alpn:
        exts += _ext(16, _vec(b"".join(_vec(a.encode(), 1) for a in alpn)))
    exts += _ext(43, _vec(bytes.fromhex("0304" if quic else "03040303"), 1))
    exts += _ext(45, _vec(b"\x01", 1))
    exts += _ext(51, _vec(b"\x00\x1d" + _vec(rng.randbytes(32))))
    if quic_scid is not None:  # initial_max_data, initial_max_streams_bidi, initial_source_cid
        params = bytes.fromhex("040480100000080110") + b"\x0f" + _vec(quic_scid, 1)
        exts += _ext(0x39, params)
    body = (
        b"\x03\x03"
        + rng.randbytes(32)
        + _vec(b"" if quic else rng.randbytes(32), 1)
        + _vec(b"".join(s.to_bytes(2, "big") for s in suites))
        + b"\x01\x00"
        + _vec(exts)
    )
    return b"\x01" + _vec(body, 3)


def server_hello(rng: random.Random, quic: bool = False) -> bytes:
    exts = _ext(43, b"\x03\x04") + _ext(51, b"\x00\x1d" + _vec(rng.randbytes(32)))
    body = (
        b"\x03\x03"
        + rng.randbytes(32)
        + _vec(b"" if quic else rng.randbytes(32), 1)
        + b"\x13\x01\x00"
        + _vec(exts)
    )
    return b"\x02" + _vec(body, 3)


def tls_record(ctype: int, body: bytes, legacy: bytes = b"\x03\x03") -> bytes:
    return bytes([ctype]) + legacy + _vec(body)


def tls_client_first(rng: random.Random, sni: str | None, alpn: str = "http/1.1") -> bytes:
    return tls_record(22, client_hello(rng, sni, (alpn,)), b"\x03\x01")


def tls_server_flight(rng: random.Random, encrypted: int = 2600) -> bytes:
    """ServerHello, ChangeCipherSpec, then the encrypted rest of the handshake."""
    return (
        tls_record(22, server_hello(rng))
        + tls_record(20, b"\x01")
        + tls_record(23, rng.randbytes(encrypted))
    )


def tls_client_finish(rng: random.Random) -> bytes:
    return tls_record(20, b"\x01") + tls_record(23, rng.randbytes(53))


def tls_app(rng: random.Random, size: int) -> bytes:
    return tls_record(23, rng.randbytes(size))


# --- QUIC v1 Initial (RFC 9000 / RFC 9001) --------------------------------------------------

QUIC_V1_SALT = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")


def _hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    h = hmac.HMAC(salt, hashes.SHA256())
    h.update(ikm)
    return h.finalize()


def _expand_label(secret: bytes, label: bytes, length: int) -> bytes:
    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + b"\x00"
    h = hmac.HMAC(secret, hashes.SHA256())
    h.update(info + b"\x01")  # one HKDF-Expand block is enough for <= 32 bytes
    return h.finalize()[:length]


def quic_initial_keys(dcid: bytes, server: bool) -> tuple[bytes, bytes, bytes]:
    """(key, iv, hp) for the Initial packets of one side, from the client's first DCID."""
    secret = _expand_label(
        _hkdf_extract(QUIC_V1_SALT, dcid), b"server in" if server else b"client in", 32
    )
    return (
        _expand_label(secret, b"quic key", 16),
        _expand_label(secret, b"quic iv", 12),
        _expand_label(secret, b"quic hp", 16),
    )


def varint(n: int) -> bytes:
    for width, tag in ((1, 0), (2, 0x40), (4, 0x80), (8, 0xC0)):
        if n < 1 << (8 * width - 2):
            raw = n.to_bytes(width, "big")
            return bytes([raw[0] | tag]) + raw[1:]
    raise ValueError(n)


def quic_crypto_frame(data: bytes, offset: int = 0) -> bytes:
    return b"\x06" + varint(offset) + varint(len(data)) + data


def quic_ack_frame(largest: int) -> bytes:
    return b"\x02" + varint(largest) + varint(0) + varint(0) + varint(0)


def quic_initial(
    dcid: bytes,
    scid: bytes,
    pn: int,
    frames: bytes,
    key_dcid: bytes,
    server: bool,
    size: int = 1200,
) -> bytes:
    """One protected Initial packet, padded with PADDING frames to ``size`` bytes."""
    key, iv, hp = quic_initial_keys(key_dcid, server)
    pn_len = 2
    head = (
        bytes([0xC0 | (pn_len - 1)])
        + b"\x00\x00\x00\x01"
        + _vec(dcid, 1)
        + _vec(scid, 1)
        + varint(0)
    )
    plain_len = size - len(head) - 2 - pn_len - 16
    plaintext = frames + b"\x00" * (plain_len - len(frames))
    header = head + (0x4000 | (pn_len + len(plaintext) + 16)).to_bytes(2, "big")
    header += pn.to_bytes(pn_len, "big")
    nonce = (int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big")
    sealed = AESGCM(key).encrypt(nonce, plaintext, header)
    sample = sealed[4 - pn_len : 20 - pn_len]
    mask = Cipher(algorithms.AES(hp), modes.ECB()).encryptor().update(sample)
    pn_at = len(header) - pn_len
    masked_pn = bytes(b ^ m for b, m in zip(header[pn_at:], mask[1 : 1 + pn_len], strict=True))
    return bytes([header[0] ^ (mask[0] & 0x0F)]) + header[1:pn_at] + masked_pn + sealed


def quic_short(rng: random.Random, dcid: bytes, size: int) -> bytes:
    """A 1-RTT packet: short header and an opaque protected payload."""
    return bytes([0x40 | rng.randrange(0x20)]) + dcid + rng.randbytes(size - 1 - len(dcid))


# --- DNS ----------------------------------------------------------------------------------


def dns_query(qid: int, name: str, qtype: str = "A") -> DNS:
    return DNS(id=qid, rd=1, qd=DNSQR(qname=name, qtype=qtype))


def dns_answer(
    qid: int, name: str, records: list[tuple[str, str, str, int]], qtype: str = "A"
) -> DNS:
    """A NOERROR response; ``records`` are (owner, type, rdata, ttl) in order."""
    rrs = [DNSRR(rrname=o, type=t, rdata=d, ttl=ttl) for o, t, d, ttl in records]
    return DNS(id=qid, qr=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype=qtype), an=rrs)


def dns_nxdomain(qid: int, name: str, zone: str) -> DNS:
    soa = DNSRRSOA(
        rrname=zone,
        ttl=900,
        mname="ns1.example.net",
        rname="hostmaster.example.net",
        serial=2026030201,
        refresh=7200,
        retry=900,
        expire=1209600,
        minimum=900,
    )
    return DNS(id=qid, qr=1, rd=1, ra=1, rcode=3, qd=DNSQR(qname=name), ns=[soa])


def dns_tcp(msg: DNS) -> bytes:
    raw = bytes(msg)
    return len(raw).to_bytes(2, "big") + raw


# --- NTP, RTP, RTCP --------------------------------------------------------------------------

NTP_EPOCH_OFFSET = 2_208_988_800


def _ntp_ts(unix_us: int) -> bytes:
    sec, frac = divmod(unix_us, 1_000_000)
    return struct.pack("!II", sec + NTP_EPOCH_OFFSET, frac * (1 << 32) // 1_000_000)


def ntp_request(unix_us: int) -> bytes:
    return (
        struct.pack("!BBbbII4s", 0x23, 0, 6, -20, 0, 0, b"\0" * 4) + b"\0" * 24 + _ntp_ts(unix_us)
    )


def ntp_reply(request_us: int, unix_us: int) -> bytes:
    head = struct.pack("!BBbbII4s", 0x24, 1, 6, -23, 0, 0x10, b"GPS\0")
    return (
        head
        + _ntp_ts(unix_us - 16_000_000)
        + _ntp_ts(request_us)
        + _ntp_ts(unix_us - 40)
        + _ntp_ts(unix_us)
    )


def rtp(seq: int, ts: int, ssrc: int, payload: bytes, marker: bool = False) -> bytes:
    return (
        struct.pack(
            "!BBHII", 0x80, (0x80 if marker else 0) | 96, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc
        )
        + payload
    )


def rtcp_sr(ssrc: int, unix_us: int, rtp_ts: int, packets: int, octets: int) -> bytes:
    return (
        struct.pack("!BBHI", 0x80, 200, 6, ssrc)
        + _ntp_ts(unix_us)
        + struct.pack("!III", rtp_ts & 0xFFFFFFFF, packets, octets)
    )


def rtcp_rr(ssrc: int, source: int, highest_seq: int) -> bytes:
    return struct.pack("!BBHII", 0x81, 201, 7, ssrc, source) + struct.pack(
        "!IIIII", 0, highest_seq & 0xFFFFFFFF, 12, 0, 0
    )


# --- Vendor and discovery protocols -----------------------------------------------------------


def dhip(body: str, session: int = 0, request: int = 0) -> bytes:
    """Dahua DHIP: 32-byte header (size 0x20, magic 'DHIP', lengths little-endian) + JSON."""
    raw = body.encode()
    head = struct.pack("<I4sIIIIII", 0x20, b"DHIP", session, request, len(raw), 0, len(raw), 0)
    return head + raw


def dahua_p2p_probe(rng: random.Random) -> bytes:
    """44-byte Dahua P2P datagram starting ff fe ff e7 (libprotoident's signature)."""
    return bytes.fromhex("fffeffe7") + rng.randbytes(40)


def natpmp_map_request(internal: int, external: int, lifetime: int) -> bytes:
    return struct.pack("!BBHHHI", 0, 2, 0, internal, external, lifetime)


def natpmp_map_response(epoch: int, internal: int, external: int, lifetime: int) -> bytes:
    return struct.pack("!BBHIHHI", 0, 130, 0, epoch, internal, external, lifetime)


def http(first: str, headers: list[tuple[str, str]], body: str = "") -> bytes:
    if body:
        headers = [*headers, ("Content-Length", str(len(body.encode())))]
    head = first + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return (head + body).encode()
