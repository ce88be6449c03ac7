"""Mirror tunnels are removed by the header decoder: the columns describe the inner frame.

Each tunnel kind is built with scapy (tests/tunnelbuild.py) around a camera's frame; the
decoded columns must equal those of the bare frame, with the tunnel's kind, session id
and the inner Ethernet header's offset on the side. Both the C decoder and its numpy twin
are checked.
"""

from __future__ import annotations

import numpy as np
import pytest
from scapy.layers.inet import GRE, IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.layers.ppp import PPP, PPPoE
from scapy.layers.vxlan import VXLAN

from monitor.classify.catalog import load_catalog
from monitor.config import MirrorPorts, Policy, default_policy
from monitor.decode.frames import (
    ERR_TUNNEL,
    ERR_VLAN,
    DecodedBatch,
    decode_batch,
    decode_batch_numpy,
)
from monitor.decode.tunnels import TUNNEL_KINDS, udp_port_table
from monitor.pipeline import Pipeline
from tests.framebuild import batch_of
from tests.tunnelbuild import EXPECTED, KINDS, OUTER_MACS, wrap

CAMERA_MAC = "44:19:b6:00:00:01"  # a Hikvision OUI
FRAME = bytes(
    Ether(src=CAMERA_MAC, dst="00:11:22:33:44:55")
    / IP(src="10.20.1.11", dst="198.51.100.7")
    / TCP(sport=50000, dport=443, flags="PA")
    / (b"\x16\x03\x01" + b"x" * 40)
)
INNER_COLUMNS = ("ip", "version", "proto", "src_key", "dst_key", "sport", "dport", "tcp_flags",
                 "payload_len", "fragment", "truncated_ip")  # fmt: skip
DECODERS = [decode_batch, decode_batch_numpy]


def decode(frames: list[bytes], decoder=decode_batch, **kw) -> DecodedBatch:  # type: ignore[no-untyped-def]
    return decoder(batch_of(frames), **kw)  # type: ignore[no-any-return]


def column(d: DecodedBatch, name: str) -> object:
    return getattr(d, name)[0].item()


@pytest.mark.parametrize("decoder", DECODERS, ids=["c", "numpy"])
@pytest.mark.parametrize("kind", KINDS)
def test_the_inner_frame_is_the_traffic(kind: str, decoder) -> None:  # type: ignore[no-untyped-def]
    plain = decode([FRAME], decoder)
    d = decode([wrap(FRAME, kind)], decoder)
    for name in INNER_COLUMNS:
        assert column(d, name) == column(plain, name), name
    name, session = EXPECTED[kind]
    assert TUNNEL_KINDS[int(d.tunnel[0])] == name
    assert int(d.tunnel_id[0]) == session
    assert int(d.error[0]) == 0
    start = int(d.payload_off[0])
    assert bytes(d.batch.data[start : start + 3]) == b"\x16\x03\x01"


@pytest.mark.parametrize("decoder", DECODERS, ids=["c", "numpy"])
@pytest.mark.parametrize("kind", KINDS)
def test_bytes_are_the_inner_frames_wire_length(kind: str, decoder) -> None:  # type: ignore[no-untyped-def]
    d = decode([wrap(FRAME, kind)], decoder)
    carries_ethernet = kind not in ("gre-ip", "ipip")
    inner = len(FRAME) + (4 if kind == "vxlan-vlan" else 0)
    assert int(d.wirelen[0]) == (inner if carries_ethernet else len(FRAME) - 14)
    # the Ethernet header the packet came in: the camera's, never the switch's
    l2 = int(d.l2[0])
    if carries_ethernet:
        assert bytes(d.batch.data[l2 + 6 : l2 + 12]).hex(":") == CAMERA_MAC
    else:
        assert l2 == -1


def test_the_outer_header_is_kept_for_the_mirror_session() -> None:
    d = decode([wrap(FRAME, "vxlan")])
    outer = int(d.outer_l3[0])
    assert bytes(d.batch.data[outer + 12 : outer + 20]) == bytes([10, 99, 0, 1, 10, 99, 0, 2])
    plain = decode([FRAME])
    assert (int(plain.tunnel[0]), int(plain.tunnel_id[0]), int(plain.outer_l3[0])) == (0, -1, -1)
    assert int(plain.l2[0]) == 0


def nest(frame: bytes, depth: int) -> bytes:
    for _ in range(depth):
        frame = wrap(frame, "gre-eth")
    return frame


@pytest.mark.parametrize("decoder", DECODERS, ids=["c", "numpy"])
def test_four_tunnels_deep_decodes_and_a_fifth_is_a_decode_error(decoder) -> None:  # type: ignore[no-untyped-def]
    d = decode([nest(FRAME, 4), nest(FRAME, 5)], decoder)
    assert d.ip.tolist() == [True, False]
    assert int(d.dport[0]) == 443 and int(d.error[0]) == 0
    assert int(d.error[1]) == ERR_TUNNEL
    assert not d.truncated_ip[1]  # counted once, as a tunnel error, not also as broken IP


@pytest.mark.parametrize("decoder", DECODERS, ids=["c", "numpy"])
def test_eight_vlan_tags_decode_and_a_ninth_is_a_decode_error(decoder) -> None:  # type: ignore[no-untyped-def]
    def tagged(n: int) -> bytes:
        pkt = Ether(src=CAMERA_MAC)
        for i in range(n):
            pkt = pkt / Dot1Q(vlan=i + 1)
        return bytes(pkt / IP(src="10.20.1.11", dst="198.51.100.7") / TCP(dport=443))

    d = decode([tagged(8), tagged(9)], decoder)
    assert d.ip.tolist() == [True, False]
    assert int(d.dport[0]) == 443
    assert d.error.tolist() == [0, ERR_VLAN]


@pytest.mark.parametrize("decoder", DECODERS, ids=["c", "numpy"])
def test_pppoe_session_frames_carry_ip(decoder) -> None:  # type: ignore[no-untyped-def]
    frame = Ether(src=CAMERA_MAC) / PPPoE(sessionid=9) / PPP(proto=0x0021)
    frame = frame / IP(src="10.20.1.11", dst="198.51.100.7") / UDP(sport=40000, dport=6000)
    d = decode([bytes(frame)], decoder)
    assert bool(d.ip[0]) and int(d.dport[0]) == 6000 and int(d.tunnel[0]) == 0


@pytest.mark.parametrize("decoder", DECODERS, ids=["c", "numpy"])
def test_vxlan_on_another_port_only_when_configured(decoder) -> None:  # type: ignore[no-untyped-def]
    outer = Ether(**OUTER_MACS) / IP(src="10.99.0.1", dst="10.99.0.2")
    frame = bytes(outer / UDP(sport=50000, dport=8472) / VXLAN(vni=3, flags=0x08) / FRAME)
    assert int(decode([frame], decoder).dport[0]) == 8472  # just UDP
    d = decode([frame], decoder, udp_ports=udp_port_table(vxlan=(4789, 8472)))
    assert (int(d.dport[0]), int(d.tunnel_id[0])) == (443, 3)


@pytest.mark.parametrize("decoder", DECODERS, ids=["c", "numpy"])
def test_what_is_not_a_mirror_tunnel_stays_as_it_is(decoder) -> None:  # type: ignore[no-untyped-def]
    outer = Ether(**OUTER_MACS) / IP(src="10.99.0.1", dst="10.99.0.2")
    frames = [
        # VXLAN port without the I flag: not VXLAN
        bytes(outer / UDP(sport=50000, dport=4789) / VXLAN(vni=3, flags=0) / FRAME),
        # GRE version 1 (PPTP) is a VPN, not a mirror: the GRE flow itself is the traffic
        bytes(outer / GRE(version=1, proto=0x880B) / (b"\x00" * 40)),
        # a non-first fragment of a tunnel packet has no tunnel header to read
        bytes(
            Ether(**OUTER_MACS)
            / IP(src="10.99.0.1", dst="10.99.0.2", proto=47, frag=10)
            / (b"\0" * 40)
        ),
    ]
    d = decode(frames, decoder)
    assert d.tunnel.tolist() == [0, 0, 0]
    assert d.proto.tolist() == [17, 47, 47]


@pytest.mark.parametrize("decoder", DECODERS, ids=["c", "numpy"])
def test_a_tunnel_with_a_payload_that_is_not_ip_is_a_frame_without_a_flow(decoder) -> None:  # type: ignore[no-untyped-def]
    outer = Ether(**OUTER_MACS) / IP(src="10.99.0.1", dst="10.99.0.2")
    d = decode([bytes(outer / GRE(proto=0x0806) / (b"\x00" * 28))], decoder)
    assert (bool(d.ip[0]), int(d.ethertype[0]), TUNNEL_KINDS[int(d.tunnel[0])]) == (
        False,
        0x0806,
        "gre",
    )


def test_the_pipeline_learns_the_cameras_mac_and_vendor_from_the_inner_frame() -> None:
    pipe = Pipeline(default_policy(), load_catalog())
    pipe.process(batch_of([wrap(FRAME, "erspan2")]))
    pipe.finish()
    camera = pipe.devices.get("10.20.1.11")
    assert camera.mac == CAMERA_MAC
    assert "10.99.0.1" not in pipe.devices.devices
    (session,) = pipe.mirror.summary()
    assert (session.kind, session.session_id, session.packets) == ("erspan2", 7, 1)


def test_the_pipeline_counts_undecodable_frames_per_layer() -> None:
    pipe = Pipeline(default_policy(), load_catalog())
    pipe.process(batch_of([nest(FRAME, 5), FRAME]))
    assert pipe.counters.decode_errors["tunnel"] == 1
    assert pipe.packets == 2


def test_the_policy_adds_vxlan_ports_to_the_decoder() -> None:
    policy = default_policy()
    site = Policy(policy.site, policy.closed_networks, mirror=MirrorPorts(vxlan=(8472,)))
    pipe = Pipeline(site, load_catalog())
    assert pipe.udp_ports[8472] & 1 and pipe.udp_ports[4789] & 1
    assert not np.any(Pipeline(policy, load_catalog()).udp_ports[8472])


@pytest.mark.parametrize("decoder", DECODERS, ids=["c", "numpy"])
def test_a_tunnel_header_cut_short_is_no_tunnel(decoder) -> None:  # type: ignore[no-untyped-def]
    """Found by Hypothesis: an empty datagram to UDP 4789 is a UDP flow, not a VXLAN frame
    read from bytes past its end."""
    outer = Ether(**OUTER_MACS) / IP(src="10.0.0.1", dst="10.0.0.2")
    frames = [
        bytes(outer / UDP(sport=8, dport=4789)),
        bytes(outer / GRE(proto=0x88BE, seqnum_present=1)),
    ]
    d = decode(frames, decoder)
    assert d.tunnel.tolist() == [0, 0] and d.ip.all()
    assert d.proto.tolist() == [17, 47]


def test_mirror_sessions_beyond_the_bound_are_counted_as_other(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Forged outer headers (a new VNI per packet) cannot grow the session list."""
    import monitor.decode.mirror_sessions as ms

    monkeypatch.setattr(ms, "MAX_SESSIONS", 2)
    outer = Ether(**OUTER_MACS) / IP(src="10.99.0.1", dst="10.99.0.2") / UDP(dport=4789)
    frames = [bytes(outer / VXLAN(vni=v, flags=0x08) / FRAME) for v in range(5)]
    pipe = Pipeline(default_policy(), load_catalog())
    pipe.process(batch_of(frames))
    sessions = pipe.mirror.summary()
    assert len(sessions) == 3
    other = next(s for s in sessions if s.kind == "other")
    assert other.packets == 3 and sum(s.packets for s in sessions) == 5
