"""The C decoder and its numpy twin read ICMP errors' quotes alike, damaged or not.

Frames are ICMP errors (v4 and v6, in VLAN tags and mirror tunnels, quoting TCP, UDP,
ICMP, fragments and IPv6 extension headers) with bytes overwritten anywhere in their
headers and quotes, and cut at any length: every decoded column and the flow grouping
must be equal between the two.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    ICMPv6PacketTooBig,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
)
from scapy.layers.l2 import Dot1Q, Ether

from monitor.model import FrameBatch
from tests.framebuild import batch_of
from tests.property.test_speedup_twins import ALL_PORTS, assert_same_columns, needs_c
from tests.tunnelbuild import wrap

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
_V4_QUOTED = [
    IP(src="10.0.0.1", dst="192.0.2.7") / UDP(sport=5000, dport=53) / b"q",
    IP(src="10.0.0.1", dst="192.0.2.7") / TCP(sport=5001, dport=443, flags="S"),
    IP(src="10.0.0.1", dst="192.0.2.7", options=b"\x01" * 4) / TCP(sport=5002, dport=80),
    IP(src="10.0.0.1", dst="192.0.2.7") / ICMP(type=8) / b"ping",
    IP(src="10.0.0.1", dst="192.0.2.7", frag=3, proto=17) / (b"f" * 16),
]
_V6_QUOTED = [
    IPv6(src="fd00::1", dst="2001:db8::7") / UDP(sport=5000, dport=53) / b"q",
    IPv6(src="fd00::1", dst="2001:db8::7") / IPv6ExtHdrDestOpt() / TCP(sport=5003, dport=443),
    IPv6(src="fd00::1", dst="2001:db8::7") / IPv6ExtHdrFragment(offset=4, nh=17) / (b"g" * 16),
    IPv6(src="fd00::1", dst="2001:db8::7") / ICMPv6EchoRequest() / b"ping",
]
_ERRORS = (
    [
        bytes(ETH / IP(src="203.0.113.1", dst="10.0.0.1") / ICMP(type=t, code=1) / bytes(q)[:n])
        for t in (3, 11, 12)
        for q in _V4_QUOTED
        for n in (28, 60)
    ]
    + [
        bytes(ETH / IPv6(src="2001:db8::1", dst="fd00::1") / e / bytes(q)[:64])
        for e in (ICMPv6DestUnreach(), ICMPv6PacketTooBig())
        for q in _V6_QUOTED
    ]
    + [bytes(ETH / Dot1Q(vlan=7) / IP(dst="10.0.0.1") / ICMP(type=3) / bytes(_V4_QUOTED[0]))]
)
TEMPLATES = _ERRORS + [wrap(f, kind) for f in _ERRORS[:3] for kind in ("vxlan", "gre-ip")]


@st.composite
def damaged_errors(draw: st.DrawFn) -> FrameBatch:
    """A batch of ICMP errors with bytes overwritten (mostly around the quote) and cut."""
    out = []
    for _ in range(draw(st.integers(1, 30))):
        frame = bytearray(draw(st.sampled_from(TEMPLATES)))
        for _ in range(draw(st.integers(0, 4))):
            at = draw(st.integers(0, len(frame) - 1))
            frame[at] = draw(st.integers(0, 255))
        cut = draw(st.integers(0, len(frame)))
        out.append(bytes(frame[:cut] if draw(st.booleans()) else frame))
    wirelens = [draw(st.sampled_from([0, len(f), len(f) + 50])) for f in out]
    return batch_of(out, [1.7e9 + i for i in range(len(out))], 1, wirelens)


@needs_c
@settings(max_examples=300, deadline=None)
@given(damaged_errors(), st.booleans())
def test_decoder_twins_agree_on_damaged_icmp_errors(batch: FrameBatch, every_port: bool) -> None:
    assert_same_columns(batch, ALL_PORTS if every_port else None)


@needs_c
def test_the_templates_are_errors_the_decoder_takes() -> None:
    """The undamaged templates do exercise the quote paths (not just plain ICMP)."""
    from monitor.decode.frames import decode_batch

    d = decode_batch(batch_of(TEMPLATES))
    assert int(d.icmp_error.sum()) == len(TEMPLATES)
    assert np.all(d.quote_l3 > d.l3)
