"""DNS dissector: header, sections, compression, damage and DNS over TCP."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR

from monitor.decode.dns import (
    TYPE_A,
    TYPE_AAAA,
    TYPE_CNAME,
    TYPE_PTR,
    TYPE_SRV,
    TYPE_TXT,
    DnsQuestion,
    mdns_services,
    normalize_name,
    parse_dns,
    parse_dns_tcp,
)


def wire_name(name: str) -> bytes:
    out = b""
    for label in name.split("."):
        raw = label.encode()
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def header(ident: int = 0x1234, flags: int = 0x8180, qd: int = 1, an: int = 0) -> bytes:
    return struct.pack("!HHHHHH", ident, flags, qd, an, 0, 0)


def rr(name: bytes, rtype: int, rdata: bytes, ttl: int = 300) -> bytes:
    return name + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def compressed_response() -> bytes:
    """www.example.com CNAME cdn.example.com, A 192.0.2.7 — names compressed."""
    msg = header(an=2) + wire_name("www.Example.com") + struct.pack("!HH", 1, 1)
    # question name at offset 12; "example.com" starts at 12 + 4 = 16
    msg += rr(b"\xc0\x0c", TYPE_CNAME, b"\x03cdn\xc0\x10")
    cname_target = len(header()) + len(wire_name("www.Example.com")) + 4 + 12
    msg += rr(struct.pack("!H", 0xC000 | cname_target), TYPE_A, bytes([192, 0, 2, 7]))
    return msg


def test_query_built_by_scapy() -> None:
    payload = bytes(DNS(id=7, rd=1, qd=DNSQR(qname="Camera.Example.COM.", qtype="AAAA")))
    msg = parse_dns(payload)
    assert msg is not None
    assert (msg.id, msg.is_response, msg.opcode, msg.rcode) == (7, False, 0, 0)
    assert msg.questions == (DnsQuestion("camera.example.com", TYPE_AAAA),)
    assert msg.answers == ()
    assert msg.complete


def test_response_with_every_decoded_type() -> None:
    payload = bytes(
        DNS(
            id=9,
            qr=1,
            qd=DNSQR(qname="x.example"),
            an=[
                DNSRR(rrname="x.example", type="A", rdata="10.1.2.3", ttl=60),
                DNSRR(rrname="x.example", type="AAAA", rdata="2001:db8::1"),
                DNSRR(rrname="x.example", type="CNAME", rdata="Y.Example."),
                DNSRR(rrname="4.3.2.10.in-addr.arpa", type="PTR", rdata="cam-1.local."),
                DNSRR(rrname="x.example", type="TXT", rdata=[b"a=1", b"b=2"]),
            ],
        )
    )
    msg = parse_dns(payload)
    assert msg is not None and msg.is_response and msg.complete
    values = [(a.rtype, a.value) for a in msg.answers]
    assert values == [
        (TYPE_A, "10.1.2.3"),
        (TYPE_AAAA, "2001:db8::1"),
        (TYPE_CNAME, "y.example"),
        (TYPE_PTR, "cam-1.local"),
        (TYPE_TXT, "a=1; b=2"),
    ]
    assert msg.answers[0].ttl == 60
    assert msg.names() == {"x.example", "y.example", "4.3.2.10.in-addr.arpa", "cam-1.local"}


def test_compression_pointers_are_followed() -> None:
    msg = parse_dns(compressed_response())
    assert msg is not None and msg.complete
    assert msg.questions[0].name == "www.example.com"
    assert [(a.name, a.value) for a in msg.answers] == [
        ("www.example.com", "cdn.example.com"),
        ("cdn.example.com", "192.0.2.7"),
    ]


def test_mx_and_srv_targets() -> None:
    msg = header(qd=0, an=2)
    msg += rr(wire_name("example.org"), 15, b"\x00\x0a" + wire_name("Mail.example.org"))
    msg += rr(
        wire_name("_sip._tcp.example.org"),
        TYPE_SRV,
        b"\x00\x01\x00\x02\x13\xc4" + wire_name("sip.example.org"),
    )
    parsed = parse_dns(msg)
    assert parsed is not None
    assert [a.value for a in parsed.answers] == ["mail.example.org", "sip.example.org"]


@pytest.mark.parametrize("cut", [1, 5, 11, 14])
def test_cut_inside_second_answer_keeps_the_first(cut: int) -> None:
    full = compressed_response()
    msg = parse_dns(full[: len(full) - cut])
    assert msg is not None
    assert not msg.complete
    assert [a.value for a in msg.answers] == ["cdn.example.com"]
    assert msg.questions[0].name == "www.example.com"


def test_header_only_and_too_short() -> None:
    assert parse_dns(b"\x00" * 11) is None
    msg = parse_dns(header(qd=0))
    assert msg is not None and msg.questions == () and msg.complete


def test_counts_larger_than_the_data_stop_cleanly() -> None:
    msg = parse_dns(header(qd=60000, an=60000) + wire_name("a.example") + b"\x00\x01\x00\x01")
    assert msg is not None
    assert [q.name for q in msg.questions] == ["a.example"]
    assert not msg.complete


def test_pointer_to_itself_is_a_loop() -> None:
    msg = parse_dns(header() + b"\xc0\x0c\x00\x01\x00\x01")
    assert msg is not None and msg.questions == () and not msg.complete


def test_two_pointers_pointing_at_each_other() -> None:
    body = header() + b"\xc0\x0e" + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    msg = parse_dns(body)
    assert msg is not None and msg.questions == () and not msg.complete


def test_label_then_pointer_back_to_itself_grows_until_refused() -> None:
    body = header() + b"\x01a\xc0\x0c" + b"\x00\x01\x00\x01"
    msg = parse_dns(body)
    assert msg is not None and msg.questions == ()


def test_pointer_past_the_end() -> None:
    msg = parse_dns(header() + b"\xc0\xff\x00\x01\x00\x01")
    assert msg is not None and msg.questions == ()


def test_names_over_253_characters_are_refused() -> None:
    long_name = ".".join(["a" * 63] * 4)  # 255 characters
    msg = parse_dns(header() + wire_name(long_name) + b"\x00\x01\x00\x01")
    assert msg is not None and msg.questions == ()


def test_non_printable_labels_are_refused() -> None:
    msg = parse_dns(header() + b"\x03a\x01b\x00\x00\x01\x00\x01")
    assert msg is not None and msg.questions == ()
    invalid_utf8 = header() + b"\x02\xff\xfe\x00\x00\x01\x00\x01"
    assert parse_dns(invalid_utf8).questions == ()  # type: ignore[union-attr]


def test_idn_punycode_stays_as_is_and_utf8_labels_are_kept() -> None:
    msg = parse_dns(header() + wire_name("xn--bcher-kva.Example") + b"\x00\x01\x00\x01")
    assert msg is not None and msg.questions[0].name == "xn--bcher-kva.example"
    mdns = parse_dns(header() + wire_name("Büro Kamera.local") + b"\x00\x0c\x00\x01")
    assert mdns is not None and mdns.questions[0].name == "büro kamera.local"


def test_extended_label_types_are_refused() -> None:
    msg = parse_dns(header() + b"\x41abc\x00\x00\x01\x00\x01")
    assert msg is not None and msg.questions == ()


def test_bad_rdata_loses_only_the_value() -> None:
    msg = header(qd=0, an=2)
    msg += rr(wire_name("a.example"), TYPE_A, b"\x01\x02\x03")  # 3-byte A record
    msg += rr(wire_name("b.example"), TYPE_A, b"\x01\x02\x03\x04")
    parsed = parse_dns(msg)
    assert parsed is not None and parsed.complete
    assert [a.value for a in parsed.answers] == [None, "1.2.3.4"]


def test_root_name_of_an_opt_record() -> None:
    msg = header(qd=0, an=0)[:10] + b"\x00\x01" + b"\x00" + struct.pack("!HHIH", 41, 4096, 0, 0)
    parsed = parse_dns(msg)
    assert parsed is not None and parsed.additionals[0].name == ""
    assert parsed.names() == set()


def test_dns_over_tcp_several_messages_and_a_cut_one() -> None:
    one = bytes(DNS(id=1, qd=DNSQR(qname="one.example")))
    two = bytes(DNS(id=2, qd=DNSQR(qname="two.example")))
    three = bytes(DNS(id=3, qd=DNSQR(qname="three.example")))
    stream = b"".join(struct.pack("!H", len(m)) + m for m in (one, two, three))
    assert [m.id for m in parse_dns_tcp(stream)] == [1, 2, 3]
    cut = stream[:-4]
    assert [m.id for m in parse_dns_tcp(cut)] == [1, 2]
    partial = parse_dns_tcp(cut, allow_partial=True)
    assert [m.id for m in partial] == [1, 2, 3]
    assert partial[-1].complete is False
    assert parse_dns_tcp(b"") == [] and parse_dns_tcp(b"\x00") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Example.COM.", "example.com"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("", None),
        (".", None),
        ("a b.example", None),
        ("tab\there", None),
        ("a" * 254, None),
        ("a" * 253, "a" * 253),
    ],
)
def test_normalize_name(text: str, expected: str | None) -> None:
    assert normalize_name(text) == expected


def test_mdns_services_from_questions_and_ptr_targets() -> None:
    payload = bytes(
        DNS(
            qr=1,
            aa=1,
            qd=[],
            an=[
                DNSRR(
                    rrname="_services._dns-sd._udp.local",
                    type="PTR",
                    rdata="_axis-video._tcp.local",
                ),
                DNSRR(
                    rrname="_axis-video._tcp.local",
                    type="PTR",
                    rdata="AXIS M3045-V - ACCC8E0A1B2C._axis-video._tcp.local",
                ),
                DNSRR(
                    rrname="_printer._sub._ipp._tcp.local", type="PTR", rdata="P._ipp._tcp.local"
                ),
            ],
        )
    )
    msg = parse_dns(payload)
    assert msg is not None
    assert mdns_services(msg) == ("_axis-video._tcp", "_ipp._tcp")


def test_sections_are_capped_at_256_records() -> None:
    record = rr(b"\xc0\x0c", TYPE_A, bytes([10, 0, 0, 1]))
    msg = parse_dns(header(an=300) + wire_name("many.example") + b"\x00\x01\x00\x01" + record * 300)
    assert msg is not None
    assert len(msg.answers) == 256 and not msg.complete
