"""TLS handshake messages built by hand for the TLS tests: hellos with chosen ciphers and
extensions, server flights with a real certificate (made with ``cryptography``), and TCP
segments of them."""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

GREASE = (0x0A0A, 0x1A1A, 0x2A2A, 0x3A3A, 0xDADA, 0xFAFA)


def u16s(values: Iterable[int]) -> bytes:
    return b"".join(struct.pack("!H", v) for v in values)


def ext(ext_type: int, data: bytes) -> bytes:
    return struct.pack("!HH", ext_type, len(data)) + data


def sni_ext(name: bytes) -> bytes:
    entry = b"\x00" + struct.pack("!H", len(name)) + name
    return ext(0, struct.pack("!H", len(entry)) + entry)


def alpn_ext(*protocols: bytes) -> bytes:
    body = b"".join(bytes([len(p)]) + p for p in protocols)
    return ext(16, struct.pack("!H", len(body)) + body)


def list_ext(ext_type: int, values: Iterable[int]) -> bytes:
    body = u16s(values)
    return ext(ext_type, struct.pack("!H", len(body)) + body)


def versions_ext(values: Iterable[int]) -> bytes:
    body = u16s(values)
    return ext(43, bytes([len(body)]) + body)


def client_hello(ciphers: Iterable[int], extensions: bytes | None, version: int = 0x0303) -> bytes:
    """A ClientHello handshake message (type, length, body)."""
    suites = u16s(ciphers)
    body = struct.pack("!H", version) + bytes(range(32)) + b"\x20" + b"\x11" * 32
    body += struct.pack("!H", len(suites)) + suites + b"\x01\x00"
    if extensions is not None:
        body += struct.pack("!H", len(extensions)) + extensions
    return b"\x01" + len(body).to_bytes(3, "big") + body


def server_hello(cipher: int, extensions: bytes = b"", version: int = 0x0303) -> bytes:
    body = struct.pack("!H", version) + bytes(32) + b"\x00" + struct.pack("!HB", cipher, 0)
    body += struct.pack("!H", len(extensions)) + extensions
    return b"\x02" + len(body).to_bytes(3, "big") + body


def certificate_message(chain: Iterable[bytes]) -> bytes:
    """A TLS 1.2 Certificate message carrying DER certificates, leaf first."""
    entries = b"".join(len(c).to_bytes(3, "big") + c for c in chain)
    body = len(entries).to_bytes(3, "big") + entries
    return b"\x0b" + len(body).to_bytes(3, "big") + body


SERVER_HELLO_DONE = b"\x0e\x00\x00\x00"


def records(messages: bytes, content: int = 22, size: int = 16384) -> bytes:
    """``messages`` in TLS 1.2 records of at most ``size`` bytes each."""
    out = b""
    for pos in range(0, len(messages), size):
        chunk = messages[pos : pos + size]
        out += struct.pack("!BHH", content, 0x0303, len(chunk)) + chunk
    return out


def segments(stream: bytes, size: int, isn: int = 1000) -> list[tuple[int, bytes]]:
    """``stream`` cut into (sequence number, payload) TCP segments of ``size`` bytes."""
    return [
        ((isn + pos) % (1 << 32), stream[pos : pos + size]) for pos in range(0, len(stream), size)
    ]


def make_certificate(
    common_name: str,
    dns_names: Iterable[str] = (),
    issuer: str = "Test CA",
    organization: str | None = None,
    serial: int = 0x1234ABCD,
    extra: int = 0,
) -> bytes:
    """A self-signed-looking DER certificate (signed by a throwaway key); ``extra`` bytes
    of padding in an unknown extension make it as large as a test needs."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        subject.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365))
    )
    names = [x509.DNSName(n) for n in dns_names]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if extra:
        oid = x509.ObjectIdentifier("1.3.6.1.4.1.55555.1")
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, bytes(extra)), False)
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)
