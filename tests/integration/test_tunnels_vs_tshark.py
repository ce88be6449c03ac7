"""Mirror tunnels in real captures: the inner traffic is what tshark dissects inside them.

For every ``zeek_tunnel_*`` capture in ../shared/pcaps-real (ERSPAN I/II/III, VXLAN,
Geneve, GRE, GRE in GRE, 4in4, 6in4) the hosts and host pairs of the replay's flows equal
the innermost ``ip``/``ipv6`` addresses tshark finds in each frame, the packet total
equals capinfos', and the tunnel endpoints are a mirror session, not a device.
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import pytest

from monitor.classify.catalog import load_catalog
from monitor.config import default_policy
from monitor.model import AuditResult, FindingKind
from monitor.replay import run_replay
from tests.requirements import SHARED, require_shared, require_tool, shared_names

PCAPS = SHARED / "pcaps-real"
FILES = shared_names("pcaps-real", "zeek_tunnel_*.pcap")

pytestmark = [pytest.mark.realpcaps, pytest.mark.tools]


@functools.cache
def replay(path: Path) -> AuditResult:
    return run_replay([str(path)], default_policy(), load_catalog()).result


def innermost_pairs(path: Path) -> set[frozenset[str]]:
    """Per frame, the addresses of tshark's innermost IPv4/IPv6 layer, as host pairs.

    Only the innermost frame counts: a tunnelled ARP frame has no IP layer of its own
    (its outer IP header is the tunnel's), so it adds no pair.
    """
    tshark = require_tool("tshark")
    fields = ["frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst"]
    cmd = [tshark, "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=a"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    pairs = set()
    for line in out.splitlines():
        protocols, *addrs = line.split("\t")
        names = protocols.split(":")
        inner = names[len(names) - names[::-1].index("eth") :] if "eth" in names else names
        all_ip = [p for p in names if p in ("ip", "ipv6")]
        layers = [p for p in inner if p in ("ip", "ipv6")] if names.count("eth") > 1 else all_ip
        if not layers:
            continue
        src, dst = (addrs[0], addrs[1]) if layers[-1] == "ip" else (addrs[2], addrs[3])
        pairs.add(frozenset((src.split(",")[-1], dst.split(",")[-1])))
    return pairs


def capinfos_count(path: Path) -> int:
    text = subprocess.run(
        [require_tool("capinfos"), "-c", "-M", str(path)], capture_output=True, text=True
    ).stdout
    found = re.search(r"Number of packets:\s+(\d+)", text)
    assert found, text
    return int(found.group(1))


@pytest.mark.parametrize("name", FILES)
def test_inner_flows_are_what_tshark_sees_inside_the_tunnel(name: str) -> None:
    path = require_shared(PCAPS / name)
    result = replay(path)
    ours = {frozenset((r.orig_addr, r.resp_addr)) for r in result.flows}
    assert ours == innermost_pairs(path)
    assert result.packets == capinfos_count(path)


@pytest.mark.parametrize("name", FILES)
def test_tunnel_endpoints_are_a_mirror_session_not_a_device(name: str) -> None:
    path = require_shared(PCAPS / name)
    result = replay(path)
    assert result.mirror_sessions, "no mirror session listed"
    assert sum(s.packets for s in result.mirror_sessions) <= result.packets
    outer = {a for s in result.mirror_sessions for a in (s.outer_src, s.outer_dst)}
    inner = {a for r in result.flows for a in (r.orig_addr, r.resp_addr)}
    devices = {d.ip for d in result.devices}
    assert not (outer - inner) & devices, "a tunnel endpoint became a device"


def test_vxlan_mirror_of_http_to_a_public_address_is_egress() -> None:
    """Cloud traffic mirroring: the inner flow 172.16.11.201 -> 54.86.237.188:80."""
    result = replay(require_shared(PCAPS / "zeek_tunnel_vxlan-encapsulated-http.pcap"))
    assert result.verdict == "findings"
    (finding,) = result.findings
    assert (finding.kind, finding.device, finding.peer, finding.peer_port) == (
        FindingKind.EGRESS,
        "172.16.11.201",
        "54.86.237.188",
        80,
    )
    (session,) = result.mirror_sessions
    assert (session.kind, session.session_id, session.packets) == ("vxlan", 1, 12)
    assert {d.ip for d in result.devices} == {"172.16.11.201"}


def test_erspan_session_ids_come_from_the_erspan_header() -> None:
    result = replay(require_shared(PCAPS / "zeek_tunnel_erspanII.pcap"))
    assert [(s.kind, s.outer_src, s.outer_dst, s.session_id) for s in result.mirror_sessions] == [
        ("erspan2", "2.2.2.2", "1.1.1.1", 100)
    ]


def test_evidence_holds_the_frames_as_received_and_tshark_sees_the_camera_inside(
    tmp_path: Path,
) -> None:
    """Evidence keeps the tunnel headers (byte-identical to the input); Wireshark's
    dissectors show the inner flow."""
    from monitor.cli import main

    path = require_shared(PCAPS / "zeek_tunnel_vxlan-encapsulated-http.pcap")
    evidence = tmp_path / "evidence.pcap"
    assert main(["replay", str(path), "--evidence", str(evidence), "--no-progress"]) == 1
    fields = ["frame.protocols", "ip.dst"]
    cmd = [require_tool("tshark"), "-n", "-r", str(evidence), "-T", "fields"]
    rows = subprocess.run(
        cmd + [a for f in fields for a in ("-e", f)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert len(rows) == 12
    assert all(r.startswith("eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:tcp") for r in rows)
    assert any("54.86.237.188" in r.split("\t")[1] for r in rows)
    original = subprocess.run(
        [require_tool("tshark"), "-n", "-r", str(path), "-T", "fields", "-e", "frame.len"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    written = subprocess.run(
        [require_tool("tshark"), "-n", "-r", str(evidence), "-T", "fields", "-e", "frame.len"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert written == original
