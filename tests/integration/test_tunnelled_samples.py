"""The demo capture delivered inside each mirror tunnel gives the plain demo's answers.

A site that receives its mirror over ERSPAN, VXLAN, Geneve or GRE must get the same
findings, devices and counters as one with the sensor on the switch; only the report's
mirror sessions tell the two apart. Tunnels that carry the IP packet alone (GRE with an IP
payload, IP-in-IP) lose the MAC addresses and the 14 Ethernet bytes of every frame, so
there the comparison leaves out what only those carry.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest

from monitor.classify.catalog import load_catalog
from monitor.config import load_policy
from monitor.model import AuditResult
from monitor.replay import run_replay
from tests.framebuild import batch_of
from tests.tunnelbuild import wrap
from tools.wrap_capture import wrap_file, wrap_frame

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "pcaps" / "demo_day.pcap.gz"
SITE = str(ROOT / "pcaps" / "site.yaml")
ETHERNET_KINDS = ("gre", "erspan1", "erspan2", "erspan3", "vxlan", "geneve")
IP_KINDS = ("gre-ip", "ipip")
SCAPY_NAME = {"gre": "gre-eth"}
MAC = "02:00:00:00:00:01"  # explicit: scapy would otherwise resolve it on the host's network


@functools.cache
def replay(path: str) -> AuditResult:
    return run_replay([path], load_policy(SITE), load_catalog()).result


def wrapped(tmp_path_factory: pytest.TempPathFactory, kind: str) -> str:
    out = tmp_path_factory.mktemp("tunnelled") / f"demo_{kind}.pcap"
    wrap_file(str(DEMO), str(out), kind, session=42)
    return str(out)


def findings(result: AuditResult, with_bytes: bool = True) -> list[dict[str, object]]:
    out = []
    for f in result.findings:
        d = dataclasses.asdict(f)
        if not with_bytes:
            d.pop("bytes")
            d.pop("evidence")  # it says how many bytes
        out.append(d)
    return out


def flows(result: AuditResult, with_bytes: bool = True) -> list[tuple[object, ...]]:
    rows = []
    for r in result.flows:
        row = (r.proto, r.orig_addr, r.orig_port, r.resp_addr, r.resp_port, r.verdict)
        counts = (r.orig_pkts, r.resp_pkts) + ((r.orig_bytes, r.resp_bytes) if with_bytes else ())
        rows.append(row + counts)
    return sorted(rows)


@pytest.mark.parametrize("kind", ETHERNET_KINDS)
def test_demo_inside_an_ethernet_tunnel_gives_the_plain_answers(
    kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    plain, tunnelled = replay(str(DEMO)), replay(wrapped(tmp_path_factory, kind))
    assert tunnelled.verdict == plain.verdict == "findings"
    assert findings(tunnelled) == findings(plain)
    assert tunnelled.devices == plain.devices
    assert flows(tunnelled) == flows(plain)
    assert (tunnelled.packets, tunnelled.bytes) == (plain.packets, plain.bytes)
    assert tunnelled.flow_count == plain.flow_count
    (session,) = tunnelled.mirror_sessions
    assert (session.kind.rstrip("123"), session.outer_src, session.outer_dst) == (
        kind.rstrip("123"),
        "10.99.0.1",
        "10.99.0.2",
    )
    assert session.packets == plain.packets
    assert session.session_id == (None if kind in ("gre", "erspan1") else 42)
    assert not plain.mirror_sessions


@pytest.mark.parametrize("kind", IP_KINDS)
def test_demo_inside_an_ip_tunnel_gives_the_plain_findings_and_flows(
    kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    plain, tunnelled = replay(str(DEMO)), replay(wrapped(tmp_path_factory, kind))
    assert findings(tunnelled, with_bytes=False) == findings(plain, with_bytes=False)
    assert flows(tunnelled, with_bytes=False) == flows(plain, with_bytes=False)
    # the same hosts; an IP tunnel carries no MACs, so a host's addresses stay apart
    assert sorted(a for d in tunnelled.devices for a in d.addresses) == sorted(
        a for d in plain.devices for a in d.addresses
    )
    # every frame arrived in the tunnel; IP-in-IP carries only the IP ones (no ARP)
    ip_frames = sum(r.orig_pkts + r.resp_pkts for r in plain.flows)
    assert tunnelled.packets == (plain.packets if kind == "gre-ip" else ip_frames)
    assert sum(s.packets for s in tunnelled.mirror_sessions) == tunnelled.packets
    assert not tunnelled.decode_errors


@pytest.mark.parametrize("kind", ETHERNET_KINDS + IP_KINDS)
def test_the_fast_wrapper_decodes_like_the_scapy_built_tunnel(kind: str) -> None:
    """tools/wrap_capture.py packs headers by hand; scapy builds them independently."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Dot1Q, Ether

    from monitor.decode.frames import decode_batch

    frames = [
        bytes(
            Ether(src=MAC, dst=MAC)
            / IP(src="10.20.1.11", dst="198.51.100.7")
            / TCP(dport=443)
            / (b"x" * 9)
        ),
        bytes(
            Ether(src=MAC, dst=MAC)
            / Dot1Q(vlan=5)
            / IP(src="10.20.1.12", dst="10.20.0.2")
            / TCP(dport=554)
        ),
    ]
    ours = decode_batch(batch_of([wrap_frame(f, kind, 3, session=7) or b"" for f in frames]))
    scapy_kind = SCAPY_NAME.get(kind, kind)
    theirs = decode_batch(batch_of([wrap(f, scapy_kind) for f in frames]))
    for column in ("ip", "src_key", "dst_key", "sport", "dport", "proto", "wirelen", "tunnel"):
        assert (getattr(ours, column) == getattr(theirs, column)).all(), column
