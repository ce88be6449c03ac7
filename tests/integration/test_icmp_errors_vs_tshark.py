"""ICMP errors in real captures are counted in the flow they quote, as tshark reads them.

tshark finds the ICMP errors (``icmp.type`` 3/11/12, ``icmpv6.type`` 1-4) of the real
captures that have some, including one inside a GRE mirror tunnel. For each, the decoder
must give the frame the quoted packet's 5-tuple (tshark's innermost IP and TCP/UDP layers
of that frame), swapped; and the replay's flow records for that 5-tuple must hold exactly
the frames tshark assigns to it, errors included. The D-Link DCS-935L capture's frame 31
(a host unreachable from 130.83.253.186 about the camera's DNS query) was an ``inbound``
finding on port 0; it must be none, and the router must be nowhere in the report.
"""

from __future__ import annotations

import functools
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from monitor.capture.offline import OfflineSource
from monitor.classify.catalog import load_catalog
from monitor.config import default_policy
from monitor.decode.frames import decode_batch
from monitor.flow.key import is_v4_key, v4_text
from monitor.model import AuditResult
from monitor.replay import run_replay
from tests.requirements import SHARED, require_shared, require_tool

PCAPS = SHARED / "pcaps-real"
DLINK = "iotsentinel_dlink-dcs935l-cam_setup-A-1.pcap"
WITH_ERRORS = [
    DLINK,
    "ndpi_stun.pcap",
    "zeek_tunnel_gre-sample.pcap",
    "bench_merged_ndpi-nfstream-tests_ethernet.pcap",
]
ERRORS = "icmp.type==3 || icmp.type==11 || icmp.type==12 || (icmpv6.type>=1 && icmpv6.type<=4)"
PROTO = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}
Tuple = tuple[str, str, int, int, int]  # src, dst, sport, dport, proto

pytestmark = [pytest.mark.realpcaps, pytest.mark.tools]


@functools.cache
def tshark_rows(path: Path, display_filter: str | None = None) -> dict[int, Tuple | None]:
    """Per frame number, tshark's innermost (src, dst, sport, dport, proto): the last IP
    layer and the transport right after it (ports 0 without TCP/UDP; None for frames
    without IP or with another transport). Reassembly is off, as in the monitor."""
    tshark = require_tool("tshark")
    fields = ["frame.number", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
              "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport"]  # fmt: skip
    cmd = [tshark, "-n", "-r", str(path), "-o", "ip.defragment:FALSE",
           "-o", "ipv6.defragment:FALSE", "-T", "fields", "-E", "occurrence=l"]  # fmt: skip
    if display_filter:
        cmd += ["-Y", display_filter]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows: dict[int, Tuple | None] = {}
    for line in out.splitlines():
        number, protocols, ip_s, ip_d, ip6_s, ip6_d, ts, td, us, ud = line.split("\t")
        names = protocols.split(":")
        ips = [i for i, p in enumerate(names) if p in ("ip", "ipv6")]
        if not ips:
            rows[int(number)] = None
            continue
        last = ips[-1]
        src, dst = (ip_s, ip_d) if names[last] == "ip" else (ip6_s, ip6_d)
        after = next((p for p in names[last + 1 :] if p != "ipv6.hopopts"), "")
        after = after.split(".")[0] if after.startswith("ipv6.") else after
        ports = {"tcp": (ts, td), "udp": (us, ud)}.get(after, ("0", "0"))
        proto = PROTO.get(after)
        if proto is None or "" in ports:
            rows[int(number)] = None
            continue
        rows[int(number)] = (src, dst, int(ports[0]), int(ports[1]), proto)
    return rows


def canonical(t: Tuple) -> Tuple:
    a, b = (t[0], t[2]), (t[1], t[3])
    return t if a <= b else (t[1], t[0], t[3], t[2], t[4])


@functools.cache
def replay(path: Path) -> AuditResult:
    return run_replay([str(path)], default_policy(), load_catalog()).result


def decoded_errors(path: Path) -> dict[int, tuple[str, str, int, int, int] | None]:
    """Per frame number the decoder marked as an ICMP error: its flow 5-tuple (IPv4
    addresses as text; None for the IPv6 ones, which the key folds)."""
    out: dict[int, tuple[str, str, int, int, int] | None] = {}
    seen = 0
    for batch in OfflineSource([str(path)]).batches():
        d = decode_batch(batch)
        for i in np.flatnonzero(d.icmp_error).tolist():
            s, t = int(d.src_key[i]), int(d.dst_key[i])
            row = (v4_text(s & 0xFFFFFFFF), v4_text(t & 0xFFFFFFFF))
            ports = (int(d.sport[i]), int(d.dport[i]), int(d.proto[i]))
            out[seen + i + 1] = (*row, *ports) if is_v4_key(s) else None
        seen += len(batch)
    return out


@pytest.mark.parametrize("name", WITH_ERRORS)
def test_the_decoder_gives_each_error_the_quoted_5_tuple_swapped(name: str) -> None:
    path = require_shared(PCAPS / name)
    theirs = tshark_rows(path, ERRORS)
    ours = decoded_errors(path)
    assert theirs and sorted(ours) == sorted(theirs)
    for number, quoted in theirs.items():
        assert quoted is not None, number
        src, dst, sport, dport, proto = quoted
        got = ours[number]
        if got is not None:  # IPv4: exact addresses
            assert got == (dst, src, dport, sport, proto), number


@pytest.mark.parametrize("name", WITH_ERRORS)
def test_each_quoted_flow_holds_the_frames_tshark_gives_it(name: str) -> None:
    path = require_shared(PCAPS / name)
    frames = tshark_rows(path)
    errors = tshark_rows(path, ERRORS)
    per_tuple = Counter(canonical(t) for t in frames.values() if t is not None)
    records: Counter[Tuple] = Counter()
    for r in replay(path).flows:
        key = (r.orig_addr, r.resp_addr, r.orig_port, r.resp_port, PROTO.get(r.proto, -1))
        records[canonical(key)] += r.orig_pkts + r.resp_pkts
    quoted = {canonical(t) for t in errors.values() if t is not None}
    assert quoted
    for t in quoted:
        assert records[t] == per_tuple[t], t


def test_the_dlink_host_unreachable_is_no_inbound_finding() -> None:
    path = require_shared(PCAPS / DLINK)
    router = "130.83.253.186"
    assert tshark_rows(path, ERRORS) == {31: ("10.10.10.37", "192.168.0.1", 53159, 53, 17)}
    result = replay(path)
    assert not [f for f in result.findings if f.kind.value == "inbound"]
    assert all(router not in (f.device, f.peer) for f in result.findings)
    hosts = {d.ip for d in result.devices} | {d.ip for d in result.silent_hosts}
    assert router not in hosts
    for r in result.flows:
        assert router not in (r.orig_addr, r.resp_addr)
    (dns,) = [r for r in result.flows if r.orig_port == 53159]
    assert (dns.orig_addr, dns.resp_addr, dns.resp_port, dns.proto) == (
        "10.10.10.37", "192.168.0.1", 53, "udp",
    )  # fmt: skip
    assert (dns.orig_pkts, dns.orig_bytes, dns.resp_pkts, dns.resp_bytes) == (1, 74, 1, 70)
    assert dns.state == "S0"  # the error is counted, but it is no answer


def test_an_error_from_a_gateway_is_evidence_of_the_flow_it_quotes(tmp_path: Path) -> None:
    """A camera's datagram to the internet and the inside gateway's host unreachable: one
    ``egress`` attempt, and the evidence pcap holds both frames (the error was an
    internal ICMP flow of the gateway before, left out of the evidence)."""
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    from monitor.replay import write_evidence

    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    sent = IP(src="10.20.1.11", dst="198.51.100.7") / UDP(sport=50123, dport=8800) / b"up"
    error = IP(src="10.20.0.1", dst="10.20.1.11") / ICMP(type=3, code=1) / bytes(sent)[:28]
    capture = tmp_path / "in.pcap"
    wrpcap(str(capture), [eth / sent, eth / error])
    run = run_replay([str(capture)], default_policy(), load_catalog())
    (finding,) = run.result.findings
    assert (finding.kind.value, finding.device, finding.peer) == (
        "egress", "10.20.1.11", "198.51.100.7",
    )  # fmt: skip
    assert (finding.packets, finding.answered) == (2, False)
    out = tmp_path / "evidence.pcap"
    assert write_evidence(run, [str(capture)], str(out)) == 2
    assert sum(len(b) for b in OfflineSource([str(out)]).batches()) == 2
