"""ICMP errors decode as the flow of the packet they quote (issue 10, point 3).

Each error is built with scapy around the packet it answers; the decoder must give the
error that packet's addresses, ports and protocol seen from its destination, so that its
flow key is the key of the quoted packet. The C decoder and its numpy twin must agree on
every frame here (and on mutated errors, see tests/property/test_icmp_error_twins.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    ICMPv6PacketTooBig,
    ICMPv6ParamProblem,
    ICMPv6TimeExceeded,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
)
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
from scapy.packet import Packet

from monitor.decode.frames import DecodedBatch, decode_batch, decode_batch_numpy
from monitor.flow.key import flow_keys
from monitor.model import FrameBatch
from tests.framebuild import batch_of
from tests.tunnelbuild import KINDS, wrap

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
CAM, CLOUD, ROUTER = "10.20.1.11", "198.51.100.7", "203.0.113.1"
CAM6, CLOUD6, ROUTER6 = "fd00:20::11", "2001:db8:100::7", "2001:db8:ffff::1"
ORIGINALS = {
    "udp": IP(src=CAM, dst=CLOUD) / UDP(sport=50123, dport=8800) / (b"q" * 40),
    "tcp": IP(src=CAM, dst=CLOUD) / TCP(sport=50124, dport=443, flags="S"),
    "icmp": IP(src=CAM, dst=CLOUD) / ICMP(type=8, id=7) / (b"p" * 32),
}
ORIGINALS6 = {
    "udp": IPv6(src=CAM6, dst=CLOUD6) / UDP(sport=50123, dport=8800) / (b"q" * 40),
    "tcp": IPv6(src=CAM6, dst=CLOUD6) / TCP(sport=50124, dport=443, flags="S"),
    "icmp": IPv6(src=CAM6, dst=CLOUD6) / ICMPv6EchoRequest(id=7) / (b"p" * 32),
}
V6_ERRORS = {
    1: ICMPv6DestUnreach(code=4),
    2: ICMPv6PacketTooBig(mtu=1280),
    3: ICMPv6TimeExceeded(),
    4: ICMPv6ParamProblem(ptr=6),
}


def v4_error(original: Packet, icmp_type: int, sender: str = ROUTER, cut: int = 28) -> Packet:
    """An ICMPv4 error from ``sender`` quoting the first ``cut`` bytes of ``original``."""
    return (
        IP(src=sender, dst=original[IP].src)
        / ICMP(type=icmp_type, code=1)
        / (bytes(original)[:cut])
    )


def v6_error(original: Packet, icmp_type: int, sender: str = ROUTER6, cut: int = 48) -> Packet:
    """An ICMPv6 error from ``sender`` quoting the first ``cut`` bytes of ``original``."""
    body = V6_ERRORS[icmp_type].copy()
    return IPv6(src=sender, dst=original[IPv6].src) / body / bytes(original)[:cut]


def decoded(frames: list[Packet | bytes]) -> DecodedBatch:
    """The frames decoded, after checking the C decoder and the numpy twin agree."""
    batch = batch_of([f if isinstance(f, bytes) else ETH / f for f in frames])
    assert_twins_agree(batch)
    return decode_batch(batch)


def assert_twins_agree(batch: FrameBatch) -> None:
    c, py = decode_batch(batch), decode_batch_numpy(batch)
    for field in dataclasses.fields(c):
        if field.name != "batch":
            a, b = getattr(c, field.name), getattr(py, field.name)
            assert a.dtype == b.dtype and np.array_equal(a, b), field.name


def at(d: DecodedBatch, column: np.ndarray, i: int) -> int:
    """An offset column's value for frame ``i``, from the start of the frame."""
    return int(column[i] - d.batch.offset[i])


def same_flow(d: DecodedBatch, original: int, error: int) -> None:
    """Frame ``error`` is in the flow of frame ``original``, sent by its other side."""
    keys, low = flow_keys(d)
    assert keys[error] == keys[original]
    assert low[error] != low[original]
    assert d.src_key[error] == d.dst_key[original] and d.dst_key[error] == d.src_key[original]
    assert (d.sport[error], d.dport[error]) == (d.dport[original], d.sport[original])
    assert d.proto[error] == d.proto[original]


@pytest.mark.parametrize("icmp_type", [3, 11, 12], ids=["unreachable", "ttl", "parameter"])
@pytest.mark.parametrize("quoted", sorted(ORIGINALS))
def test_icmpv4_errors_take_the_quoted_flow(icmp_type: int, quoted: str) -> None:
    original = ORIGINALS[quoted]
    d = decoded([original, v4_error(original, icmp_type)])
    assert d.icmp_error.tolist() == [False, True]
    assert d.ip.tolist() == [True, True]
    same_flow(d, 0, 1)
    assert d.payload_len[1] == 0 and d.tcp_flags[1] == 0
    assert at(d, d.quote_l3, 1) == 14 + 20 + 8 and d.quote_l3[0] == -1
    assert at(d, d.l3, 1) == 14 and d.version[1] == 4  # the error's own header


@pytest.mark.parametrize("icmp_type", sorted(V6_ERRORS), ids=["unreach", "too-big", "ttl", "param"])
@pytest.mark.parametrize("quoted", sorted(ORIGINALS6))
def test_icmpv6_errors_take_the_quoted_flow(icmp_type: int, quoted: str) -> None:
    original = ORIGINALS6[quoted]
    d = decoded([original, v6_error(original, icmp_type)])
    assert d.icmp_error.tolist() == [False, True]
    same_flow(d, 0, 1)
    assert at(d, d.quote_l3, 1) == 14 + 40 + 8


def test_ports_come_from_the_quote_not_from_the_error() -> None:
    d = decoded([v4_error(ORIGINALS["udp"], 3)])
    assert (d.sport[0], d.dport[0], d.proto[0]) == (8800, 50123, 17)


@pytest.mark.parametrize(
    "message",
    [ICMP(type=8), ICMP(type=0), ICMP(type=5, gw="10.20.0.1"), ICMP(type=4), ICMP(type=13)],
    ids=["echo", "echo-reply", "redirect", "source-quench", "timestamp"],
)
def test_other_icmp_messages_stay_icmp_flows_of_their_own(message: Packet) -> None:
    quote = bytes(ORIGINALS["udp"])[:28]
    d = decoded([IP(src=ROUTER, dst=CAM) / message / quote])
    assert not d.icmp_error[0] and d.proto[0] == 1 and d.sport[0] == 0 and d.quote_l3[0] == -1


def test_icmpv6_informational_messages_are_no_errors() -> None:
    d = decoded([IPv6(src=CLOUD6, dst=CAM6) / ICMPv6EchoRequest() / bytes(ORIGINALS6["udp"])])
    assert not d.icmp_error[0] and d.proto[0] == 58


@pytest.mark.parametrize(("cut", "ports"), [(28, True), (24, True), (23, False), (20, False)])
def test_a_quote_without_ports_keeps_addresses_and_protocol(cut: int, ports: bool) -> None:
    """RFC 792 quotes 8 bytes of L4; ports need 4. Fewer: the flow of port 0."""
    original = ORIGINALS["tcp"]
    d = decoded([original, v4_error(original, 3, cut=cut)])
    assert d.icmp_error[1] and d.ip[1] and d.proto[1] == 6
    assert d.src_key[1] == d.dst_key[0] and d.dst_key[1] == d.src_key[0]
    expected = (443, 50124) if ports else (0, 0)
    assert (d.sport[1], d.dport[1]) == expected


@pytest.mark.parametrize("cut", [0, 8, 19])
def test_a_quote_cut_inside_its_ip_header_is_a_truncated_header_not_a_router_flow(
    cut: int,
) -> None:
    d = decoded([v4_error(ORIGINALS["udp"], 3, cut=cut)])
    assert not d.ip[0] and not d.icmp_error[0] and d.error[0] == 0
    assert d.truncated_ip[0]  # counted as an IP header that cannot be read
    assert d.wirelen[0] == len(ETH / v4_error(ORIGINALS["udp"], 3, cut=cut))


def test_a_quote_of_another_ip_version_is_a_truncated_header() -> None:
    d = decoded([IP(src=ROUTER, dst=CAM) / ICMP(type=3) / bytes(ORIGINALS6["udp"])[:48]])
    assert not d.ip[0] and d.truncated_ip[0]


def test_an_error_cut_before_its_quote_is_a_truncated_header() -> None:
    frame = bytes(ETH / v4_error(ORIGINALS["udp"], 11))
    d = decoded([frame[: 14 + 20 + 1], frame[: 14 + 20 + 8], frame[: 14 + 20]])
    assert d.truncated_ip.tolist() == [True, True, False]
    assert d.ip.tolist() == [False, False, True]  # no ICMP type to read: plain ICMP


def test_an_ipv6_quote_whose_extension_headers_are_cut_keeps_the_fixed_headers_protocol() -> None:
    original = IPv6(src=CAM6, dst=CLOUD6) / IPv6ExtHdrDestOpt() / UDP(sport=1, dport=2) / b"x"
    whole = decoded([original, v6_error(original, 1, cut=40 + 8 + 8)])
    assert whole.proto[1] == 17 and (whole.sport[1], whole.dport[1]) == (2, 1)
    cut = decoded([v6_error(original, 1, cut=40 + 4)])
    assert cut.icmp_error[0] and cut.proto[0] == 60 and cut.sport[0] == 0


def test_a_quoted_non_first_fragment_has_no_ports_like_the_fragment_itself() -> None:
    frag = IP(src=CAM, dst=CLOUD, frag=100, proto=17) / (b"f" * 40)
    d = decoded([frag, v4_error(frag, 3)])
    assert d.fragment.tolist() == [True, True]
    same_flow(d, 0, 1)
    frag6 = IPv6(src=CAM6, dst=CLOUD6) / IPv6ExtHdrFragment(offset=9, nh=17) / (b"g" * 40)
    d6 = decoded([frag6, v6_error(frag6, 2)])
    assert d6.fragment.tolist() == [True, True] and d6.sport[1] == 0


def test_a_fragmented_error_is_left_alone() -> None:
    """Only a whole (first) fragment has the ICMP header to read."""
    later = IP(src=ROUTER, dst=CAM, proto=1, frag=20) / bytes(v4_error(ORIGINALS["udp"], 3))[20:]
    d = decoded([later])
    assert d.ip[0] and not d.icmp_error[0] and d.fragment[0]


@pytest.mark.parametrize(
    "tags", [[Dot1Q(vlan=20)], [Dot1AD(vlan=100), Dot1Q(vlan=20)]], ids=["802.1Q", "QinQ"]
)
def test_an_error_inside_vlan_tags(tags: list[Packet]) -> None:
    original = ORIGINALS["udp"]
    tagged = ETH
    for tag in tags:
        tagged = tagged / tag
    d = decoded([original, bytes(tagged / v4_error(original, 3))])
    assert d.icmp_error[1]
    same_flow(d, 0, 1)
    assert at(d, d.quote_l3, 1) == 14 + 4 * len(tags) + 20 + 8


@pytest.mark.parametrize("kind", KINDS)
def test_an_error_inside_a_mirror_tunnel(kind: str) -> None:
    original = ORIGINALS["udp"]
    error = wrap(bytes(ETH / v4_error(original, 3)), kind)
    d = decoded([bytes(ETH / original), error])
    assert d.tunnel[1] != 0 and d.icmp_error[1]
    same_flow(d, 0, 1)
    assert bytes(d.batch.data[d.quote_l3[1] : d.quote_l3[1] + 28]) == bytes(original)[:28]


def test_an_error_inside_a_tunnel_inside_a_vlan_ipv6() -> None:
    original = ORIGINALS6["tcp"]
    inner = bytes(ETH / Dot1Q(vlan=5) / v6_error(original, 3))
    d = decoded([bytes(ETH / original), wrap(inner, "vxlan")])
    assert d.icmp_error[1]
    same_flow(d, 0, 1)
