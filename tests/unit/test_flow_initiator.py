"""The initiator rule, every branch, in both address orders, for IPv4 and IPv6.

A flow's originator decides its direction, and the direction decides between ``egress``
and ``inbound``. Each case is a short exchange between a client and a server whose first
packets the capture may have missed; the table must name the client as the originator
whichever of the two addresses sorts low in the flow key (hence both role assignments).
"""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from monitor.classify.catalog import load_catalog
from monitor.config import default_policy
from monitor.decode.frames import decode_batch
from monitor.flow.table import FlowTable
from monitor.model import FindingKind
from monitor.pipeline import Pipeline
from tests.framebuild import batch_of

# explicit MACs: without them scapy would resolve them on the host's network
MAC_A, MAC_B = "44:19:b6:00:00:01", "00:11:22:33:44:55"
ADDRESS_PAIRS = {
    "v4": ("10.20.1.49", "198.51.100.49"),
    "v6": ("fd00:20::49", "2001:db8:100::49"),
}

# (name, frames as (sender, flags, payload) with "c" = client and "s" = server, ports)
CASES = [
    ("syn", [("c", "S", b"")], (50049, 50001)),
    ("syn then syn-ack", [("c", "S", b""), ("s", "SA", b"")], (50049, 50001)),
    ("syn-ack first, syn missed", [("s", "SA", b""), ("c", "A", b"")], (50049, 50001)),
    ("lone syn-ack, both ports high", [("s", "SA", b"")], (50049, 50001)),
    ("syn-ack, ephemeral port on the server", [("s", "SA", b"")], (40000, 50001)),
    ("reset answering a missed syn", [("s", "RA", b"")], (50049, 50001)),
    ("mid-stream data, client first", [("c", "PA", b"x"), ("s", "A", b"")], (50049, 50001)),
    ("mid-stream data, server first, client port ephemeral", [("s", "PA", b"x")], (50049, 443)),
    ("udp, client first, both ports high", [("c", "", b"q"), ("s", "", b"a")], (50049, 50001)),
    ("udp answer only, client port ephemeral", [("s", "", b"a")], (50049, 8800)),
]


def _frames(version: str, client: str, server: str, exchange, ports):  # type: ignore[no-untyped-def]
    cport, sport = ports
    ip = IP if version == "v4" else IPv6
    out = []
    for who, flags, payload in exchange:
        src, dst, sp, dp = (
            (client, server, cport, sport) if who == "c" else (server, client, sport, cport)
        )
        l4 = UDP(sport=sp, dport=dp) if flags == "" else TCP(sport=sp, dport=dp, flags=flags)
        out.append(Ether(src=MAC_A, dst=MAC_B) / ip(src=src, dst=dst) / l4 / payload)
    return out


@pytest.mark.parametrize("version", sorted(ADDRESS_PAIRS))
@pytest.mark.parametrize("roles", ["camera-client", "outside-client"])
@pytest.mark.parametrize(("case", "exchange", "ports"), CASES, ids=[c[0] for c in CASES])
def test_the_client_is_the_originator(version, roles, case, exchange, ports) -> None:  # type: ignore[no-untyped-def]
    camera, outside = ADDRESS_PAIRS[version]
    client, server = (camera, outside) if roles == "camera-client" else (outside, camera)
    table = FlowTable()
    table.ingest(decode_batch(batch_of(_frames(version, client, server, exchange, ports))))
    (flow,) = table.flows.values()
    assert (flow.orig_addr, flow.orig_port) == (client, ports[0]), case
    assert (flow.resp_addr, flow.resp_port) == (server, ports[1]), case


@pytest.mark.parametrize("version", sorted(ADDRESS_PAIRS))
def test_both_sides_reset_falls_back_to_the_first_sender(version: str) -> None:
    a, b = ADDRESS_PAIRS[version]
    frames = _frames(version, a, b, [("c", "R", b""), ("s", "R", b"")], (50049, 50001))
    table = FlowTable()
    table.ingest(decode_batch(batch_of(frames)))
    (flow,) = table.flows.values()
    # the first frame is a reset, so its sender is taken as the responder
    assert flow.orig_addr == b


def _replay(frames) -> Pipeline:  # type: ignore[no-untyped-def]
    pipe = Pipeline(default_policy(), load_catalog())
    pipe.process(batch_of(frames))
    pipe.finish()
    return pipe


@pytest.mark.parametrize("version", sorted(ADDRESS_PAIRS))
def test_a_capture_starting_at_the_outside_syn_ack_is_egress_from_the_camera(
    version: str,
) -> None:
    """The reported bug: camera 10.20.1.49:50049 -> 198.51.100.49:50001, SYN missed."""
    camera, outside = ADDRESS_PAIRS[version]
    exchange = [("s", "SA", b""), ("c", "A", b""), ("c", "PA", b"upload"), ("s", "A", b"")]
    pipe = _replay(_frames(version, camera, outside, exchange, (50049, 50001)))
    (finding,) = pipe.findings.findings()
    assert finding.kind == FindingKind.EGRESS
    assert (finding.device, finding.peer, finding.peer_port) == (camera, outside, 50001)
    assert finding.answered


def test_the_rule_is_applied_per_flow_within_one_batch() -> None:
    """Two flows in one batch, decided by different branches (SYN-ACK, then ports)."""
    cam, out = ADDRESS_PAIRS["v4"]
    frames = _frames("v4", cam, out, [("s", "SA", b"")], (50049, 50001))
    frames += _frames("v4", cam, "203.0.113.5", [("s", "PA", b"x")], (50050, 443))
    frames += _frames("v4", "203.0.113.6", cam, [("c", "S", b"")], (40000, 554))
    table = FlowTable()
    table.ingest(decode_batch(batch_of(frames)))
    got = sorted((f.orig_addr, f.resp_port) for f in table.flows.values())
    assert got == sorted([(cam, 50001), (cam, 443), ("203.0.113.6", 554)])
