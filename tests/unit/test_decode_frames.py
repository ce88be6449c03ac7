"""The vectorised header decoder, frame by frame against what scapy built."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import ARP, CookedLinux, Dot1AD, Dot1Q, Ether

from monitor.decode.frames import decode_batch
from monitor.model import LINKTYPE_LINUX_SLL, LINKTYPE_NULL, LINKTYPE_RAW
from tests.framebuild import batch_of

ETH = Ether(src="44:19:b6:00:00:01", dst="00:11:22:33:44:55")


def test_tcp_and_udp_ports_flags_and_payload() -> None:
    frames = [
        ETH / IP(src="10.0.0.1", dst="192.0.2.1") / TCP(sport=40000, dport=443, flags="S"),
        ETH / IP(src="10.0.0.1", dst="192.0.2.1") / UDP(sport=5000, dport=53) / (b"x" * 30),
    ]
    d = decode_batch(batch_of(frames))
    assert d.ip.tolist() == [True, True]
    assert d.sport.tolist() == [40000, 5000]
    assert d.dport.tolist() == [443, 53]
    assert d.tcp_flags.tolist() == [0x02, 0]
    assert d.payload_len.tolist() == [0, 30]
    assert d.proto.tolist() == [6, 17]


@pytest.mark.parametrize(
    "tags",
    [
        [Dot1Q(vlan=20)],
        [Dot1AD(vlan=100), Dot1Q(vlan=20)],
        [Dot1AD(vlan=1), Dot1Q(vlan=2), Dot1Q(vlan=3)],
    ],
    ids=["802.1Q", "QinQ", "QinQinQ"],
)
def test_vlan_tags_are_skipped_and_do_not_change_the_addresses(tags: list[object]) -> None:
    inner = IP(src="10.20.1.11", dst="198.51.100.7") / TCP(sport=50000, dport=443)
    pkt = ETH
    for tag in tags:
        pkt = pkt / tag
    tagged = decode_batch(batch_of([pkt / inner]))
    plain = decode_batch(batch_of([ETH / inner]))
    assert tagged.ip[0] and plain.ip[0]
    assert tagged.src_key[0] == plain.src_key[0]
    assert tagged.dport[0] == 443


def test_ipv6_extension_headers_are_walked() -> None:
    pkt = (
        ETH
        / IPv6(src="fd20::11", dst="2001:db8::1")
        / IPv6ExtHdrHopByHop()
        / UDP(sport=40000, dport=53)
        / b"abc"
    )
    d = decode_batch(batch_of([pkt]))
    assert d.ip[0] and d.proto[0] == 17 and d.dport[0] == 53 and d.payload_len[0] == 3


def test_non_first_fragments_have_no_ports() -> None:
    pieces = fragment(
        IP(src="10.0.0.1", dst="10.0.0.2", id=7) / UDP(sport=1000, dport=2000) / (b"y" * 3000), 1400
    )
    d = decode_batch(batch_of([ETH / pieces[0], ETH / pieces[1]]))
    assert d.fragment.tolist() == [False, True]
    assert d.dport.tolist() == [2000, 0]
    frag6 = (
        ETH / IPv6(src="fd::1", dst="fd::2") / IPv6ExtHdrFragment(offset=100, nh=17) / (b"z" * 20)
    )
    assert decode_batch(batch_of([frag6])).fragment[0]


def test_other_link_types() -> None:
    ip = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2)
    raw = decode_batch(batch_of([bytes(ip)], linktype=LINKTYPE_RAW))
    null = decode_batch(batch_of([b"\x02\x00\x00\x00" + bytes(ip)], linktype=LINKTYPE_NULL))
    sll = decode_batch(batch_of([CookedLinux(proto=0x0800) / ip], linktype=LINKTYPE_LINUX_SLL))
    for d in (raw, null, sll):
        assert d.ip[0] and d.dport[0] == 2


def test_unknown_link_type_and_non_ip_frames_are_not_flows() -> None:
    unknown = decode_batch(batch_of([b"\x00" * 60], linktype=147))
    arp = decode_batch(batch_of([ETH / ARP()]))
    assert not unknown.ip[0] and not arp.ip[0]


def test_truncated_headers_never_read_past_the_frame() -> None:
    full = bytes(ETH / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=2))
    frames = [full[:n] for n in (10, 14, 20, 33, 34, 40, 54)]
    d = decode_batch(batch_of(frames))
    assert d.ip.tolist() == [False, False, False, False, True, True, True]
    assert d.truncated_ip.tolist()[2:4] == [True, True]
    assert d.dport.tolist()[-1] == 2
    assert d.dport.tolist()[4] == 0  # the IP header is complete, TCP ports are not


def test_wire_length_rebuilt_from_the_ip_header_when_unknown() -> None:
    pkt = ETH / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / (b"v" * 1000)
    cut = bytes(pkt)[:96]
    d = decode_batch(batch_of([cut], wirelen=[0]))
    assert d.wirelen[0] == len(pkt)


def test_icmp_is_a_flow_without_ports() -> None:
    d = decode_batch(batch_of([ETH / IP(src="10.0.0.1", dst="192.0.2.9") / ICMP()]))
    assert d.ip[0] and d.proto[0] == 1 and d.sport[0] == 0
