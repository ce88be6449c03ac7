"""The DNS side capture of ``--workers`` (a plain packet socket, filtered before it is bound).

Two promises, on a veth pair: a DNS answer is readable on the side capture no later than the
first frame of the connection it names is readable on the main capture (so a worker never
classifies that connection without the name, whichever worker the answer went to), and the
side capture holds exactly the DNS responses the operator's ``--bpf`` admits, VLAN tags put
back where the kernel took them out.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Packet
from scapy.utils import wrpcap

from tests.waiting import scaled

from .netns import ROOT, Segment, need, segment

pytestmark = [pytest.mark.slow, pytest.mark.tools]
CAM, RESOLVER = "10.20.1.11", "10.20.0.53"
CAM_MAC, GW_MAC = "02:00:00:00:01:11", "02:00:00:00:00:01"
PAIRS = 400


def _answer(n: int, vlan: int | None = None) -> Packet:
    name = f"cloud-{n}.example.com"
    dns = DNS(id=n, qr=1, aa=1, qd=DNSQR(qname=name), an=DNSRR(rrname=name, rdata=_peer(n)))
    frame = Ether(src=GW_MAC, dst=CAM_MAC)
    if vlan is not None:
        frame /= Dot1Q(vlan=vlan)
    return frame / IP(src=RESOLVER, dst=CAM) / UDP(sport=53, dport=30000 + n) / dns


def _peer(n: int) -> str:
    return f"198.18.{n // 250}.{n % 250 + 1}"


def _syn(n: int) -> Packet:
    ip = IP(src=CAM, dst=_peer(n))
    return Ether(src=CAM_MAC, dst=GW_MAC) / ip / TCP(sport=40000 + n, dport=443, flags="S")


def _bulk(n: int) -> Packet:
    ip = IP(src=CAM, dst="10.20.0.2")
    return Ether(src=CAM_MAC, dst=GW_MAC) / ip / UDP(sport=5004, dport=5004) / (b"v" * 1300)


def _read(seg: Segment, frames: list[Packet], pcap: Path, *args: str) -> dict:
    """Send ``frames`` at 3,000 packets/s (the reader keeps up and reads as they come: the
    race is there) while side_reader reads the sensor's end; its report."""
    wrpcap(str(pcap), frames)
    cmd = [sys.executable, "-m", "tests.live.side_reader", seg.sen_if, str(len(frames)), *args]
    reader = subprocess.Popen(
        seg.sensor_cmd(*cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "open", reader.stderr
        seg.replay(pcap, extra=("--pps=3000",))
        out, err = reader.communicate(timeout=scaled(90))
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    assert reader.returncode == 0, err
    return json.loads(out)


def test_an_answer_is_read_before_the_connection_it_names(tmp_path: Path) -> None:
    need("ip", "tcpreplay")
    frames: list[Packet] = []
    for n in range(PAIRS):  # answer, then at once the connection; bulk fills the blocks
        frames += [_answer(n), _syn(n)] + [_bulk(n)] * (n % 7)
    with segment() as seg:
        report = _read(seg, frames, tmp_path / "pairs.pcap")
    assert report["frames"] == len(frames)
    assert report["syns"] == PAIRS
    assert report["syns_before_their_answer"] == 0  # a libpcap side handle: about half
    assert report["side_stats"] == [PAIRS, 0, 0]  # every answer queued, none dropped


def test_only_the_responses_the_operator_filter_admits_tags_and_all(tmp_path: Path) -> None:
    need("ip", "tcpreplay")
    untagged, vlan20, vlan30 = _answer(1), _answer(2, vlan=20), _answer(3, vlan=30)
    query = (
        Ether(src=CAM_MAC, dst=GW_MAC)
        / IP(src=CAM, dst=RESOLVER)
        / UDP(sport=30001, dport=53)  # scapy would make it 53
        / DNS(qd=DNSQR(qname="cloud-1.example.com"))
    )
    frames = [query, untagged, _syn(1), vlan20, _bulk(0), vlan30]
    with segment() as seg:
        everything = _read(seg, frames, tmp_path / "all.pcap")
        only20 = _read(seg, frames, tmp_path / "vlan20.pcap", "--bpf", "vlan 20")
    want = [bytes(f).hex() for f in (untagged, vlan20, vlan30)]
    assert everything["side"] == want
    assert only20["side"] == [bytes(vlan20).hex()]
    assert everything["frames"] == only20["frames"] == len(frames)
