"""Server certificates of TLS 1.2 and older: parsed with ``cryptography``, reassembled from
TCP segments in sequence order (out of order, retransmitted, wrapping), within the bound."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID, NameOID
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from monitor.decode.der_certificate import DerError, read_certificate
from monitor.decode.tcp_stream import StreamBuffer, tcp_seq
from monitor.decode.tls import (
    is_sslv2_client_hello,
    is_starttls_request,
    is_tls_record_start,
    proxy_header_length,
)
from monitor.decode.tls_certificates import CertificateError, parse_certificate
from monitor.decode.tls_session import SERVER_LIMIT, TlsSession, server_session
from tests.unit.tls_builders import (
    SERVER_HELLO_DONE,
    certificate_message,
    client_hello,
    ext,
    make_certificate,
    records,
    segments,
    server_hello,
    sni_ext,
)

LEAF = make_certificate(
    "*.hik-connect.com", ["*.hik-connect.com", "hik-connect.com", "HIK-CONNECT.com"],
    issuer="Vendor Issuing CA", organization="Hangzhou Hikvision Digital Technology",
)  # fmt: skip
INTERMEDIATE = make_certificate("Vendor Issuing CA", issuer="Vendor Root CA")


def flight(chain: list[bytes], hello_extensions: bytes = b"") -> bytes:
    """ServerHello, Certificate, ServerHelloDone in TLS 1.2 records (as servers send it)."""
    hello = server_hello(0xC02F, hello_extensions or ext(0xFF01, b"\x00"))
    return records(hello + certificate_message(chain) + SERVER_HELLO_DONE)


def feed(session: TlsSession, parts: list[tuple[int, bytes]]) -> None:
    for seq, payload in parts:
        session.feed_server(seq, payload)


def test_certificate_fields() -> None:
    cert = parse_certificate(LEAF)
    assert cert.common_name == "*.hik-connect.com"
    assert cert.dns_names == ("*.hik-connect.com", "hik-connect.com")  # lower case, once
    assert cert.subject == "O=Hangzhou Hikvision Digital Technology,CN=*.hik-connect.com"
    assert cert.issuer == "CN=Vendor Issuing CA"
    assert cert.serial == "1234abcd"
    assert cert.not_before == 1704067200.0 and cert.not_after == 1704067200.0 + 365 * 86400
    assert cert.sha256 == hashlib.sha256(LEAF).hexdigest()
    assert cert.names() == ("*.hik-connect.com", "hik-connect.com")
    assert cert.to_json()["dns_names"] == ["*.hik-connect.com", "hik-connect.com"]


def test_a_cn_that_is_no_host_name_is_not_a_name() -> None:
    cert = parse_certificate(make_certificate("IPC", ["cam-7.example"]))
    assert cert.common_name == "IPC" and cert.names() == ("cam-7.example",)


def test_bad_der_is_a_clear_error() -> None:
    with pytest.raises(CertificateError, match=r"certificate \(5 bytes\) unreadable"):
        parse_certificate(b"\x30\x03\x02\x01\x00")


@pytest.mark.parametrize("size", [1, 7, 300, 1460, 5000])
def test_leaf_read_from_segments_in_order(size: int) -> None:
    session = TlsSession()
    feed(session, segments(flight([LEAF, INTERMEDIATE]), size))
    assert session.certificate is not None
    assert session.certificate.sha256 == hashlib.sha256(LEAF).hexdigest()
    assert session.ja3s is not None and session.server_done and session.problem is None


def test_out_of_order_retransmitted_and_overlapping_segments() -> None:
    parts = segments(flight([LEAF, INTERMEDIATE]), 200)
    rng = random.Random(7)
    shuffled = parts[1:]
    rng.shuffle(shuffled)  # the first segment first: it starts the stream
    seq0, data0 = parts[3]
    noisy = [parts[0], *shuffled[:5], parts[2], (seq0 + 50, data0[50:] + b"x" * 0), *shuffled[5:]]
    session = TlsSession()
    feed(session, noisy)
    assert session.certificate is not None
    assert session.certificate.common_name == "*.hik-connect.com"


def test_a_segment_before_the_first_waits_until_the_stream_starts() -> None:
    parts = segments(flight([LEAF]), 100)
    session = TlsSession()
    feed(session, [parts[1], parts[0], *parts[2:]])
    assert session.certificate is not None


def test_sequence_numbers_wrap() -> None:
    parts = segments(flight([LEAF, INTERMEDIATE]), 100, isn=(1 << 32) - 250)
    assert parts[3][0] < parts[0][0]  # wrapped
    session = TlsSession()
    feed(session, parts)
    assert session.certificate is not None


def test_a_gap_that_never_fills_leaves_no_certificate() -> None:
    parts = segments(flight([LEAF]), 50)
    session = TlsSession()
    feed(session, parts[:3] + parts[4:])  # bytes 150-199, inside the leaf, never come
    assert session.certificate is None and not session.server_done and session.following


def test_an_oversize_chain_is_read_when_its_leaf_fits() -> None:
    big = make_certificate("Big Intermediate", extra=12000)
    chain = [LEAF, big, big]
    assert len(flight(chain)) > SERVER_LIMIT
    session = TlsSession()
    feed(session, segments(flight(chain), 1460))
    assert (
        session.certificate is not None and session.certificate.common_name == "*.hik-connect.com"
    )


def test_a_leaf_beyond_the_bound_is_not_read_and_said_so() -> None:
    huge = make_certificate("huge.example", extra=SERVER_LIMIT)
    session = TlsSession()
    feed(session, segments(flight([huge]), 1460))
    assert session.certificate is None and session.server_done
    assert session.problem == f"no certificate within the first {SERVER_LIMIT} bytes"
    assert session.server is None  # the bytes are let go


def test_an_unreadable_certificate_is_a_problem_not_a_crash() -> None:
    session = TlsSession()
    feed(session, segments(flight([b"\x30\x82\x00\x10" + bytes(16)]), 1460))
    assert session.certificate is None and session.server_done
    assert session.problem is not None and "unreadable" in session.problem


def test_tls13_server_hello_ends_the_server_side() -> None:
    session = TlsSession()
    hello = records(server_hello(0x1301, ext(43, b"\x03\x04") + ext(51, bytes(36))))
    session.feed_server(5000, hello + records(b"\x01", content=20) + records(bytes(80), 23))
    assert session.server_done and session.certificate is None and session.problem is None
    assert session.server_hello is not None and session.server_hello.version == 0x0304


def test_a_warning_alert_before_the_hello_is_skipped() -> None:
    alert = records(b"\x01\x70", content=21)  # warning: unrecognized_name
    session = TlsSession()
    feed(session, segments(alert + flight([LEAF]), 700))
    assert session.certificate is not None


def test_resumption_without_certificate() -> None:
    session = TlsSession()
    hello = server_hello(0xC02F, ext(0xFF01, b"\x00"))
    session.feed_server(1, records(hello) + records(b"\x01", content=20))
    assert session.server_done and session.ja3s is not None and session.certificate is None


def test_client_hello_split_over_segments_and_its_fingerprints() -> None:
    stream = records(client_hello((0xC02F, 0x009C), sni_ext(b"dev.hik-connect.com")), size=80)
    session = TlsSession()
    parts = segments(stream, 50)
    for seq, payload in [parts[0], parts[2], parts[1], parts[1], *parts[3:]]:
        session.feed_client(seq, payload)
    assert session.sni == "dev.hik-connect.com" and session.client_done
    assert session.ja3 is not None and session.ja4 is not None and session.ja4.startswith("t12d")


def test_a_malformed_hello_gets_no_fingerprint() -> None:
    extensions = sni_ext(b"a.example")
    message = bytearray(client_hello((0xC02F,), extensions))
    at = len(message) - len(extensions) - 2
    message[at : at + 2] = (len(extensions) + 5).to_bytes(2, "big")  # runs past the message
    session = TlsSession()
    assert session.feed_client(1, records(bytes(message)))
    assert session.client_done and session.ja3 is None and session.ja4 is None
    assert session.sni == "a.example" and not session.rejected  # TLS all the same


def test_sslv2_hello_is_tls_without_fingerprint() -> None:
    v2 = bytes.fromhex("807d01030100540000002000003900003800003500001600")
    assert is_sslv2_client_hello(v2) and not is_tls_record_start(v2)
    session = TlsSession()
    assert session.feed_client(1, v2)
    assert session.client_done and session.ja3 is None and not session.rejected
    assert not session.server_done  # its certificate still names the server


def test_a_server_only_capture_still_reads_the_certificate() -> None:
    session = server_session()
    feed(session, segments(flight([LEAF]), 1000))
    assert session.certificate is not None and session.names_pending() is False


def test_client_bytes_that_are_no_tls_reject_the_session() -> None:
    session = TlsSession()
    assert session.feed_client(1, b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00")  # not a hello
    assert session.rejected and session.client_done and session.server_done


def test_starttls_and_proxy_headers() -> None:
    assert is_starttls_request(b"a001 STARTTLS\r\n") and is_starttls_request(b"STLS\r\n")
    assert not is_starttls_request(b"GET / HTTP/1.1\r\n")
    v1 = b"PROXY TCP4 10.0.0.1 10.0.0.2 40000 443\r\n"
    assert proxy_header_length(v1 + b"\x16\x03\x01") == len(v1)
    v2 = b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c" + bytes(12)
    assert proxy_header_length(v2 + b"\x16") == 28
    assert proxy_header_length(b"\x16\x03\x01\x00") == 0


def test_stream_buffer_bound_counts_waiting_bytes() -> None:
    buf = StreamBuffer(100)
    buf.add(1000, b"a" * 10)
    buf.add(1200, b"b" * 95)  # after a gap: waits, within the bound
    assert not buf.full and len(buf.data) == 10
    buf.add(1300, b"c" * 10)  # waiting would exceed the bound
    assert buf.full


@pytest.mark.parametrize(
    "l3",
    [
        IP(src="10.20.1.11", dst="198.51.100.7", options=b"\x01\x01\x01\x00"),  # IHL 6
        IPv6(src="fd00::11", dst="2001:db8::7"),
        IPv6(src="fd00::11", dst="2001:db8::7") / IPv6ExtHdrHopByHop(),
    ],
)
def test_tcp_seq_is_read_from_the_frame(l3: object) -> None:
    tcp = TCP(sport=40000, dport=443, seq=0xDEADBEEF, options=[("NOP", None)] * 4)
    frame = bytes(Ether() / l3 / tcp / Raw(b"\x16\x03\x01"))  # type: ignore[operator]
    assert tcp_seq(frame, 14, len(frame) - 3) == 0xDEADBEEF


# ------------------------------------------------------- the lenient reader, held to cryptography
def flawed_certificate(dns_names: list[str]) -> bytes:
    """A certificate whose BasicConstraints spells out its DEFAULT (cA FALSE), as old
    firmware's do: ``cryptography`` refuses its extensions."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ipc.vendor.example")])
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(77)
        .not_valid_before(dt.datetime(2015, 6, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2065, 6, 1, tzinfo=dt.UTC))  # GeneralizedTime
        .add_extension(x509.UnrecognizedExtension(
            ExtensionOID.BASIC_CONSTRAINTS, b"\x30\x03\x01\x01\x00"), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), False)
    )  # fmt: skip
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)


def test_a_certificate_cryptography_refuses_is_read_leniently() -> None:
    der = flawed_certificate(["ipc.vendor.example", "*.p2p.vendor.example"])
    with pytest.raises(ValueError, match="EncodedDefault"):
        x509.load_der_x509_certificate(der).extensions  # noqa: B018 (what we work around)
    cert = parse_certificate(der)
    assert cert.subject == cert.issuer == "CN=ipc.vendor.example"
    assert cert.dns_names == ("ipc.vendor.example", "*.p2p.vendor.example")
    assert cert.serial == "4d"
    assert cert.not_after == dt.datetime(2065, 6, 1, tzinfo=dt.UTC).timestamp()
    assert cert.sha256 == hashlib.sha256(der).hexdigest()


@pytest.mark.parametrize(
    "subject",
    [
        [(NameOID.COMMON_NAME, "*.hik-connect.com")],
        [(NameOID.COUNTRY_NAME, "CN"), (NameOID.ORGANIZATION_NAME, "Hangzhou, Hikvision"),
         (NameOID.ORGANIZATIONAL_UNIT_NAME, "IT+Ops <cloud>"), (NameOID.COMMON_NAME, " cam ")],
        [(NameOID.DOMAIN_COMPONENT, "example"), (NameOID.LOCALITY_NAME, "Zürich"),
         (NameOID.EMAIL_ADDRESS, "ops@example.com"), (NameOID.SERIAL_NUMBER, "SN 42"),
         (NameOID.ORGANIZATIONAL_UNIT_NAME, "#7")],
    ],
)  # fmt: skip
def test_the_lenient_reader_reads_as_cryptography_does(subject: list[tuple[object, str]]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid, value) for oid, value in subject])  # type: ignore[arg-type]
    der = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(0x0123456789ABCDEF)
        .not_valid_before(dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2049, 12, 31, tzinfo=dt.UTC))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("a.example"), x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
             x509.DNSName("b.example")]), critical=False)
        .sign(key, hashes.SHA256()).public_bytes(Encoding.DER)
    )  # fmt: skip
    strict = parse_certificate(der)
    got = read_certificate(der)
    assert got["subject"] == strict.subject and got["issuer"] == strict.issuer
    assert got["common_name"] == strict.common_name
    assert (got["not_before"], got["not_after"]) == (strict.not_before, strict.not_after)
    assert got["dns_names"] == list(strict.dns_names)
    assert format(int(got["serial"]), "x") == strict.serial  # type: ignore[call-overload]


@pytest.mark.parametrize("cut", [0, 1, 2, 10, 100, -1])
def test_the_lenient_reader_refuses_cut_certificates_clearly(cut: int) -> None:
    with pytest.raises(DerError):
        read_certificate(LEAF[:cut])
