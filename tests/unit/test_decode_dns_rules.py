"""The DNS dissector's limits and header fields, each at its boundary.

RFC 1035: a label is at most 63 octets (0x40 and 0x80 start extended label types), a name
at most 255 octets on the wire, a text name at most 253 characters; a compression pointer
is 14 bits, so it can point past offset 255. The parser follows at most 32 pointers per
name and reads at most 256 records per section (``monitor/decode/dns.py``).
"""

from __future__ import annotations

import struct

from monitor.decode.dns import (
    TYPE_A,
    TYPE_CNAME,
    TYPE_MX,
    TYPE_PTR,
    TYPE_SRV,
    TYPE_TXT,
    DnsQuestion,
    mdns_services,
    parse_dns,
    parse_dns_tcp,
)
from tests.unit.test_decode_dns import rr, wire_name

QTYPE_A = b"\x00\x01\x00\x01"


def full_header(flags: int = 0x8180, qd: int = 0, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return struct.pack("!HHHHHH", 0x4321, flags, qd, an, ns, ar)


def question(name: str) -> bytes:
    return full_header(qd=1) + wire_name(name) + QTYPE_A


def _pointer_chain(hops: int) -> bytes:
    """A question whose name is reached through ``hops`` compression pointers."""
    chain_at = 12 + 2 + 4  # after the question's own pointer and its type and class
    links = hops - 1
    body = struct.pack("!H", 0xC000 | chain_at) + QTYPE_A
    for i in range(links):
        body += struct.pack("!H", 0xC000 | (chain_at + 2 * (i + 1)))
    return full_header(qd=1) + body + wire_name("deep.example")


def test_thirty_two_pointer_hops_are_followed_thirty_three_are_not() -> None:
    ok = parse_dns(_pointer_chain(32))
    assert ok is not None and ok.questions == (DnsQuestion("deep.example", TYPE_A),)
    refused = parse_dns(_pointer_chain(33))
    assert refused is not None and refused.questions == () and not refused.complete


def test_a_pointer_beyond_offset_255_is_followed() -> None:
    pad = rr(wire_name("pad.example"), TYPE_TXT, bytes([255]) + b"p" * 255)
    far_at = 12 + len(pad)
    far = rr(wire_name("far.example"), TYPE_A, bytes([192, 0, 2, 1]))
    alias = rr(struct.pack("!H", 0xC000 | far_at), TYPE_A, bytes([192, 0, 2, 2]))
    assert far_at > 255
    msg = parse_dns(full_header(an=3) + pad + far + alias)
    assert msg is not None and msg.complete
    assert [(a.name, a.value) for a in msg.answers[1:]] == [
        ("far.example", "192.0.2.1"),
        ("far.example", "192.0.2.2"),
    ]


def test_a_compressed_target_ending_the_message_is_read() -> None:
    msg = full_header(qd=1, an=1) + wire_name("www.example") + QTYPE_A
    msg += rr(b"\xc0\x0c", TYPE_CNAME, b"\x03cdn\xc0\x10")  # cdn + "example" of the question
    parsed = parse_dns(msg)
    assert parsed is not None and parsed.complete
    assert parsed.answers[0].value == "cdn.example"
    last = full_header(an=1) + rr(wire_name("a.example"), TYPE_CNAME, b"\xc0\x0e")
    assert parse_dns(last).answers[0].value == "example"  # type: ignore[union-attr]


def test_a_pointer_cut_after_its_first_byte_is_damage_not_a_crash() -> None:
    msg = parse_dns(full_header(qd=1) + b"\xc0")
    assert msg is not None and msg.questions == () and not msg.complete
    msg = parse_dns(full_header(qd=1) + b"\x01a\xc0")
    assert msg is not None and msg.questions == () and not msg.complete


def test_a_63_octet_label_is_a_label_64_is_an_extended_type() -> None:
    ok = parse_dns(question("a" * 63 + ".example"))
    assert ok is not None and ok.questions[0].name == "a" * 63 + ".example"
    refused = parse_dns(full_header(qd=1) + b"\x40" + b"a" * 64 + b"\x00" + QTYPE_A)
    assert refused is not None and refused.questions == ()


def test_a_name_of_253_characters_is_kept() -> None:
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name) == 253
    msg = parse_dns(question(name))
    assert msg is not None and msg.questions[0].name == name


def test_the_wire_limit_counts_octets_of_utf8_labels() -> None:
    """Two-octet characters: 129 characters of text, but 255 octets on the wire."""
    labels = ["ü" * 31] * 4  # 62 octets each
    at_limit = ".".join([*labels, "a"])  # 4 * 63 + 2 + 1 = 255 octets
    msg = parse_dns(full_header(qd=1) + wire_name(at_limit) + b"\x00\x0c\x00\x01")
    assert msg is not None and msg.questions[0].name == at_limit
    over = ".".join([*labels, "ab"])  # 256 octets, 130 characters
    msg = parse_dns(full_header(qd=1) + wire_name(over) + b"\x00\x0c\x00\x01")
    assert msg is not None and msg.questions == () and not msg.complete


def test_a_question_type_above_255() -> None:
    msg = parse_dns(full_header(qd=1) + wire_name("example.org") + b"\x01\x01\x00\x01")
    assert msg is not None and msg.questions[0].qtype == 257  # CAA


def test_exactly_256_records_are_complete() -> None:
    record = rr(b"\xc0\x0c", TYPE_A, bytes([10, 0, 0, 1]))
    msg = parse_dns(full_header(qd=1, an=256) + wire_name("many.example") + QTYPE_A + record * 256)
    assert msg is not None and len(msg.answers) == 256 and msg.complete


def test_after_a_capped_section_the_later_sections_are_not_read() -> None:
    record = rr(b"\xc0\x0c", TYPE_A, bytes([10, 0, 0, 1]))
    ns = rr(b"\xc0\x0c", 2, wire_name("ns.example"))
    body = full_header(qd=1, an=300, ns=1) + wire_name("many.example") + QTYPE_A
    msg = parse_dns(body + record * 300 + ns)
    assert msg is not None and len(msg.answers) == 256
    assert msg.authorities == () and not msg.complete


def test_authority_and_additional_sections() -> None:
    body = full_header(qd=1, an=0, ns=1, ar=1) + wire_name("example.org") + QTYPE_A
    body += rr(b"\xc0\x0c", 2, wire_name("ns1.example.org"))
    body += rr(wire_name("ns1.example.org"), TYPE_A, bytes([192, 0, 2, 53]))
    msg = parse_dns(body)
    assert msg is not None and msg.complete
    assert [(a.name, a.rtype, a.value) for a in msg.authorities] == [
        ("example.org", 2, "ns1.example.org")
    ]
    assert [(a.name, a.value) for a in msg.additionals] == [("ns1.example.org", "192.0.2.53")]


def test_header_flags() -> None:
    def flags_of(flags: int):  # type: ignore[no-untyped-def]
        msg = parse_dns(full_header(flags=flags))
        assert msg is not None
        return (msg.is_response, msg.opcode, msg.rcode, msg.truncated_flag)

    assert flags_of(0x8180) == (True, 0, 0, False)
    assert flags_of(0x8383) == (True, 0, 3, True)  # truncated, NXDOMAIN
    assert flags_of(0x8181) == (True, 0, 1, False)  # FORMERR, not truncated
    assert flags_of(0x0001) == (False, 0, 1, False)
    assert flags_of(0xA800 | 0x0005) == (True, 5, 5, False)  # UPDATE, REFUSED
    assert flags_of(0x1000) == (False, 2, 0, False)  # STATUS query


def test_a_bad_aaaa_record_loses_only_its_value() -> None:
    body = full_header(an=2)
    body += rr(wire_name("a.example"), 28, bytes([1, 2, 3, 4]))
    body += rr(wire_name("b.example"), TYPE_A, bytes([1, 2, 3, 4]))
    msg = parse_dns(body)
    assert msg is not None and msg.complete
    assert [a.value for a in msg.answers] == [None, "1.2.3.4"]


def test_null_mx_and_srv_targets_are_the_root() -> None:
    """RFC 7505 null MX and RFC 2782 "no service": the target is the root name, ''."""
    body = full_header(an=2)
    body += rr(wire_name("example.org"), TYPE_MX, b"\x00\x00\x00")
    body += rr(wire_name("_sip._tcp.example.org"), TYPE_SRV, b"\x00" * 6 + b"\x00")
    msg = parse_dns(body)
    assert msg is not None and [a.value for a in msg.answers] == ["", ""]


def test_a_target_name_running_past_its_record_loses_the_value() -> None:
    body = full_header(an=2)
    body += rr(wire_name("a.example"), TYPE_CNAME, b"\x05cdn")  # label longer than the data
    body += rr(wire_name("b.example"), TYPE_CNAME, wire_name("c.example"))
    msg = parse_dns(body)
    assert msg is not None and msg.complete
    assert [a.value for a in msg.answers] == [None, "c.example"]
    looping = full_header(an=1) + rr(wire_name("d.example"), TYPE_PTR, b"\xc0\x00")
    assert parse_dns(looping).answers[0].value is None  # type: ignore[union-attr]


def test_txt_strings_are_made_printable() -> None:
    body = full_header(an=1) + rr(wire_name("t.example"), TYPE_TXT, b"\x05a=\xff\x07b")
    msg = parse_dns(body)
    assert msg is not None and msg.answers[0].value == "a=\ufffd?b"


def test_the_root_name_is_not_a_name() -> None:
    """A priming query (NS for the root) names nothing."""
    msg = parse_dns(full_header(qd=1) + b"\x00" + b"\x00\x02\x00\x01")
    assert msg is not None and msg.questions == (DnsQuestion("", 2),)
    assert msg.names() == set()


def _mdns(*records: bytes, questions: tuple[str, ...] = ()) -> tuple[str, ...]:
    body = full_header(qd=len(questions), an=len(records))
    for q in questions:
        body += wire_name(q) + b"\x00\x0c\x00\x01"
    msg = parse_dns(body + b"".join(records))
    assert msg is not None and msg.complete
    return mdns_services(msg)


def test_mdns_services_over_udp_and_from_ptr_targets_only() -> None:
    browse = wire_name("_services._dns-sd._udp.local")
    assert _mdns(rr(browse, TYPE_PTR, wire_name("_rtsp._tcp.local"))) == ("_rtsp._tcp",)
    assert _mdns(questions=("_sleep-proxy._udp.local",)) == ("_sleep-proxy._udp",)
    assert _mdns(questions=("_http._tcp",)) == ("_http._tcp",)
    assert _mdns(questions=("cam-1.local",)) == ()
    text = b"a._hidden._tcp"
    txt = rr(wire_name("cam-1.local"), TYPE_TXT, bytes([len(text)]) + text)
    assert _mdns(txt) == ()  # a TXT string is not a target name


def test_dns_over_tcp_long_messages_and_completeness() -> None:
    pad = rr(wire_name("pad.example"), TYPE_TXT, bytes([255]) + b"p" * 255)
    one = full_header(an=1) + pad
    two = question("two.example")
    assert len(one) > 256
    stream = b"".join(struct.pack("!H", len(m)) + m for m in (one, two))
    messages = parse_dns_tcp(stream)
    assert [len(m.answers) for m in messages] == [1, 0]
    assert [m.complete for m in messages] == [True, True]
    assert messages[1].questions[0].name == "two.example"


def test_a_cut_tcp_message_is_incomplete_even_when_its_sections_parse() -> None:
    msg = question("cut.example")
    stream = struct.pack("!H", len(msg) + 4) + msg  # four trailing octets never arrived
    assert parse_dns_tcp(stream) == []
    (partial,) = parse_dns_tcp(stream, allow_partial=True)
    assert partial.questions[0].name == "cut.example" and partial.complete is False


def test_a_record_does_not_borrow_the_next_message_s_length_prefix() -> None:
    """The answer's data runs one octet past its message: it is damage, not data."""
    short = full_header(an=1) + wire_name("a.example") + struct.pack("!HHIH", TYPE_A, 1, 60, 4)
    short += bytes([10, 0, 0])
    nxt = question("next.example")
    stream = b"".join(struct.pack("!H", len(m)) + m for m in (short, nxt))
    first, second = parse_dns_tcp(stream)
    assert first.answers == () and not first.complete
    assert second.questions[0].name == "next.example"
