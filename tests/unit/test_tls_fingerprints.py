"""JA3, JA3S and JA4: the specification's published examples, GREASE, ALPN edge cases,
QUIC, and the ``ja4plus`` package as an independent reference."""

from __future__ import annotations

import hashlib

import pytest
from ja4plus.fingerprinters.ja4 import JA4Fingerprinter, generate_ja4
from ja4plus.utils.tls_utils import extract_tls_info
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from monitor.decode.tls import parse_client_hello, parse_client_hello_message
from monitor.decode.tls_fingerprints import (
    ServerHello,
    is_grease,
    ja3,
    ja3_string,
    ja3s,
    ja3s_string,
    ja4,
    ja4_parts,
)
from monitor.decode.tls_server import parse_server_hello
from tests.unit.test_decode_quic import RFC_HELLO, crypto, initial
from tests.unit.tls_builders import (
    GREASE,
    alpn_ext,
    client_hello,
    ext,
    list_ext,
    records,
    server_hello,
    sni_ext,
    versions_ext,
)

# technical_details/JA4.md (FoxIO): the example hello's lists, in wire order
SPEC_CIPHERS = (0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8,
                0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035)  # fmt: skip
SPEC_EXTENSIONS = (0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005,
                   0x0023, 0x0012, 0x002B, 0xFF01, 0x000B, 0x000A, 0x0015)  # fmt: skip
SPEC_SIGNATURES = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)


def spec_extensions(signatures: tuple[int, ...] = SPEC_SIGNATURES, grease: bool = False) -> bytes:
    """The example's extensions, with bodies where JA4 reads them (SNI, ALPN h2, versions,
    signature algorithms), GREASE values spread in when asked."""
    out = ext(GREASE[0], b"") if grease else b""
    for kind in SPEC_EXTENSIONS:
        if kind == 0x0000:
            out += sni_ext(b"cam.example.com")
        elif kind == 0x0010:
            out += alpn_ext(b"h2", b"http/1.1")
        elif kind == 0x002B:
            out += versions_ext(((GREASE[1],) if grease else ()) + (0x0304, 0x0303))
        elif kind == 0x000D:  # (an empty list: the example "without signature algorithms")
            out += list_ext(13, ((GREASE[2],) if grease and signatures else ()) + signatures)
        elif kind == 0x000A:
            out += list_ext(10, ((GREASE[3],) if grease else ()) + (0x001D, 0x0017, 0x0018))
        elif kind == 0x000B:
            out += ext(11, b"\x01\x00")
        else:
            out += ext(kind, b"")
    return out + (ext(GREASE[4], b"\x00") if grease else b"")


def spec_hello(signatures: tuple[int, ...] = SPEC_SIGNATURES, grease: bool = False) -> bytes:
    ciphers = ((GREASE[5],) if grease else ()) + SPEC_CIPHERS
    return records(client_hello(ciphers, spec_extensions(signatures, grease)))


def parsed(stream: bytes):  # type: ignore[no-untyped-def]
    hello = parse_client_hello(stream)
    assert hello is not None and hello.complete
    return hello


def test_ja4_is_the_specifications_example() -> None:
    hello = parsed(spec_hello())
    assert ja4(hello) == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    _, b, c = ja4_parts(hello)  # JA4_r of the specification
    assert b == "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"
    assert c == (
        "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_"
        "0403,0804,0401,0503,0805,0501,0806,0601"
    )


def test_ja4_without_signature_algorithms_has_no_underscore() -> None:
    hello = parsed(spec_hello(signatures=()))
    # the specification's example: the extension list alone hashes to 6d807ffa2a79
    assert ja4(hello) == "t13d1516h2_8daaf6152771_6d807ffa2a79"


def test_grease_counts_nowhere() -> None:
    plain, greased = parsed(spec_hello()), parsed(spec_hello(grease=True))
    assert greased.ciphers[0] == GREASE[5] and GREASE[0] in greased.extensions  # kept as sent
    assert ja4(greased) == ja4(plain)
    assert ja3(greased) == ja3(plain)
    assert "2570" not in ja3_string(greased)  # 0x0a0a in decimal
    assert all(is_grease(g) for g in GREASE) and not is_grease(0x0A1A)


def test_ja3_text_is_wire_order_in_decimal() -> None:
    hello = parsed(spec_hello(grease=True))
    text = ja3_string(hello)
    assert text == (
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
        "27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21,29-23-24,0"
    )
    assert ja3(hello) == hashlib.md5(text.encode()).hexdigest()


def test_ja3_of_a_hello_without_extensions_keeps_five_fields() -> None:
    hello = parsed(records(client_hello((0x002F, 0x0035), None, version=0x0301)))
    assert ja3_string(hello) == "769,47-53,,,"
    assert ja4(hello) == "t10i020000_" + hashlib.sha256(b"002f,0035").hexdigest()[:12] + (
        "_000000000000"
    )


@pytest.mark.parametrize(
    ("alpn", "chars"),
    [
        (b"h2", "h2"),
        (b"http/1.1", "h1"),
        (b"h", "hh"),  # one character is both first and last
        (b"\xab", "ab"),  # the specification's examples: non-alphanumeric ends print hex
        (b"\xab\xcd", "ad"),
        (b"\x30\xab", "3b"),
        (b"\x30\x31\xab\xcd", "3d"),
        (b"\x30\xab\xcd\x31", "01"),
    ],
)
def test_ja4_alpn_characters(alpn: bytes, chars: str) -> None:
    hello = parsed(records(client_hello((0x1301,), alpn_ext(alpn))))
    assert ja4_parts(hello)[0] == f"t12i0101{chars}"


def test_ja4_version_sni_and_counts() -> None:
    no_versions = parsed(records(client_hello((0x002F,), sni_ext(b"a.example"), 0x0302)))
    assert ja4_parts(no_versions)[0] == "t11d010100"  # legacy version, SNI present
    ip_name = parsed(records(client_hello((0x002F,), sni_ext(b"10.1.2.3"))))
    assert ja4_parts(ip_name)[0].startswith("t12d")  # the extension is there: "d"
    unknown = parsed(records(client_hello((0x002F,), versions_ext((0x7F1C,)))))
    assert ja4_parts(unknown)[0].startswith("t00i")  # TLS 1.3 draft 28: not a JA4 version
    many = parsed(
        records(client_hello(range(1, 150), b"".join(ext(0xFF00 + i, b"") for i in range(120))))
    )
    assert ja4_parts(many)[0] == "t12i999900"


def test_no_ciphers_and_no_extensions_hash_to_zeros() -> None:
    only_sni_alpn = parsed(records(client_hello((), sni_ext(b"a.example") + alpn_ext(b"h2"))))
    assert ja4(only_sni_alpn) == "t12d0002h2_000000000000_000000000000"


def test_ja3s_of_a_server_hello() -> None:
    body = server_hello(0xC02F, ext(0xFF01, b"\x00") + ext(0x000B, b"\x01\x00") + ext(0x23, b""))
    hello = parse_server_hello(body[4:])
    assert hello == ServerHello(0x0303, 0xC02F, (0xFF01, 0x000B, 0x0023), None)
    assert ja3s_string(hello) == "771,49199,65281-11-35"
    assert ja3s(hello) == hashlib.md5(b"771,49199,65281-11-35").hexdigest()
    tls13 = parse_server_hello(server_hello(0x1301, ext(43, b"\x03\x04"))[4:])
    assert tls13 is not None and tls13.version == 0x0304 and tls13.legacy_version == 0x0303


# ---------------------------------------------------------------- ja4plus as the reference
REFERENCE_HELLOS = {
    "spec": spec_hello(),
    "spec-grease": spec_hello(grease=True),
    "no-signatures": spec_hello(signatures=()),
    "camera-tls10": records(client_hello((0x0035, 0x002F, 0x000A, 0x00FF), None, 0x0301)),
    "tls12-no-sni": records(
        client_hello(
            (0xC02F, 0xC030, 0x009E, 0x00FF),
            list_ext(10, (0x0017, 0x0018))
            + ext(11, b"\x01\x00")
            + list_ext(13, (0x0401, 0x0601))
            + ext(0x0017, b"")
            + ext(0x0023, b""),
        )
    ),
    "alpn-http11": records(
        client_hello((0x1301, 0x1302), sni_ext(b"x.example") + alpn_ext(b"http/1.1"))
    ),
}


@pytest.mark.parametrize("name", sorted(REFERENCE_HELLOS))
def test_ja4_agrees_with_ja4plus(name: str) -> None:
    stream = REFERENCE_HELLOS[name]
    packet = Ether() / IP(src="10.20.1.11", dst="198.51.100.7") / TCP(sport=40000, dport=443)
    info = extract_tls_info(packet / Raw(stream))
    assert info is not None, "ja4plus did not read the hello"
    assert ja4(parsed(stream)) == generate_ja4(info)


def test_quic_hello_is_q_and_agrees_with_ja4plus() -> None:
    hello = parse_client_hello_message(RFC_HELLO)  # RFC 9001 A.2's ClientHello
    assert hello is not None and hello.complete
    ours = ja4(hello, "q")
    assert ours.startswith("q13d0")
    assert ours[1:] == ja4(hello, "t")[1:]  # only the transport differs
    datagram = initial(crypto(0, RFC_HELLO))
    packet = Ether() / IP(src="10.20.1.11", dst="198.51.100.7") / UDP(sport=50000, dport=443)
    assert JA4Fingerprinter().process_packet(packet / Raw(datagram)) == ours
