"""ICMP errors are counted in the flow they quote and never open a flow of their own.

The reported bug (D-Link DCS-935L capture, frame 31): a router's host unreachable about
the camera's DNS query became an ``inbound`` finding on port 0 from the router. Here the
error is counted in the quoted flow, travelling towards the original sender; the original
sender is the initiator even when the capture never saw its packet (an outbound packet
the error quotes is still egress: ``answered: false``), and the router is never a device,
a peer or an initiator. The full flow table and the light flows must agree.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6EchoRequest, ICMPv6TimeExceeded, IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from monitor.classify.catalog import load_catalog
from monitor.config import default_policy
from monitor.decode.frames import decode_batch
from monitor.flow.table import FlowTable
from monitor.model import Finding, FindingKind
from monitor.pipeline import Pipeline, PipelineSettings
from tests.framebuild import batch_of

E = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
HOSTS = {
    "v4": ("10.20.1.11", "198.51.100.7", "203.0.113.1"),
    "v6": ("fd00:20::11", "2001:db8:100::7", "2001:db8:ffff::1"),
}
GATEWAYS = {"v4": "10.20.0.1", "v6": "fd00:20::1"}  # a router inside the closed network
T0 = 1.7e9


def packet(version: str, src: str, dst: str, l4: Packet) -> Packet:
    return E / (IP if version == "v4" else IPv6)(src=src, dst=dst) / l4


def error_about(version: str, original: Packet, sender: str, outside: bool = True) -> Packet:
    """An ICMP error from ``sender`` to the original's source, quoting ``original``."""
    ip = original[IP] if version == "v4" else original[IPv6]
    quote = bytes(ip)[: 28 if version == "v4" else 48]
    if version == "v4":
        return E / IP(src=sender, dst=ip.src) / ICMP(type=3 if outside else 11, code=1) / quote
    kind = ICMPv6DestUnreach(code=4) if outside else ICMPv6TimeExceeded()
    return E / IPv6(src=sender, dst=ip.src) / kind / quote


def l4_of(proto: str, sport: int, dport: int) -> Packet:
    if proto == "tcp":
        return TCP(sport=sport, dport=dport, flags="S")
    if proto == "udp":
        return UDP(sport=sport, dport=dport) / b"query"
    return ICMP(type=8) / b"ping"


def ingest(table: FlowTable, frames: list[Packet], t0: float = T0) -> None:
    table.ingest(decode_batch(batch_of(frames, [t0 + i * 0.01 for i in range(len(frames))])))


@pytest.mark.parametrize("version", sorted(HOSTS))
def test_the_error_is_counted_in_the_quoted_flow_as_no_answer(version: str) -> None:
    cam, cloud, router = HOSTS[version]
    query = packet(version, cam, cloud, UDP(sport=50123, dport=8800) / b"query")
    error = error_about(version, query, router)
    table = FlowTable()
    ingest(table, [query, error])
    (flow,) = table.flows.values()
    assert (flow.orig_addr, flow.orig_port, flow.resp_addr, flow.resp_port) == (
        cam, 50123, cloud, 8800,
    )  # fmt: skip
    assert (flow.orig_pkts, flow.resp_pkts, flow.icmp_errors) == (1, 1, 1)
    assert (flow.orig_bytes, flow.resp_bytes) == (len(query), len(error))
    assert not flow.answered and flow.state() == "S0"
    assert router not in (flow.orig_addr, flow.resp_addr)


# (quoted protocol, camera port, cloud port): port pairs where the port rule alone would
# take the error's sender (the quoted destination) for the initiator, or cannot decide
PORTS = [
    ("udp", 50123, 50001),  # both dynamic: the port rule falls back to the first sender
    ("udp", 123, 123),  # equal scores
    ("udp", 8800, 40000),  # the cloud's port looks more ephemeral
    ("tcp", 554, 50000),
    ("tcp", 50124, 443),
    ("icmp", 0, 0),
]


@pytest.mark.parametrize("version", sorted(HOSTS))
@pytest.mark.parametrize(("proto", "cam_port", "cloud_port"), PORTS)
def test_an_error_about_a_packet_never_seen_makes_its_sender_the_originator(
    version: str, proto: str, cam_port: int, cloud_port: int
) -> None:
    cam, cloud, router = HOSTS[version]
    l4 = l4_of(proto, cam_port, cloud_port)
    if proto == "icmp" and version == "v6":
        l4 = ICMPv6EchoRequest() / b"ping"
    unseen = packet(version, cam, cloud, l4)
    table = FlowTable()
    ingest(table, [error_about(version, unseen, router)])
    (flow,) = table.flows.values()
    assert (flow.orig_addr, flow.resp_addr) == (cam, cloud)
    assert (flow.orig_port, flow.resp_port) == (cam_port, cloud_port)
    assert (flow.orig_pkts, flow.resp_pkts, flow.icmp_errors) == (0, 1, 1)
    assert not flow.answered


@pytest.mark.parametrize("version", sorted(HOSTS))
def test_the_error_goes_with_real_answers_without_hiding_them(version: str) -> None:
    cam, cloud, router = HOSTS[version]
    frames = [
        packet(version, cam, cloud, TCP(sport=50124, dport=443, flags="S")),
        packet(version, cloud, cam, TCP(sport=443, dport=50124, flags="SA")),
        packet(version, cam, cloud, TCP(sport=50124, dport=443, flags="A")),
    ]
    frames.append(error_about(version, frames[2], router, outside=False))
    table = FlowTable()
    ingest(table, frames)
    (flow,) = table.flows.values()
    assert (flow.orig_addr, flow.resp_pkts, flow.icmp_errors) == (cam, 2, 1)
    assert flow.answered and flow.state() == "S1"


def test_errors_add_up_over_batches() -> None:
    cam, cloud, router = HOSTS["v4"]
    query = packet("v4", cam, cloud, UDP(sport=50123, dport=8800) / b"query")
    table = FlowTable()
    for k in range(3):
        ingest(table, [query, error_about("v4", query, router)], T0 + k)
    (flow,) = table.flows.values()
    assert (flow.orig_pkts, flow.resp_pkts, flow.icmp_errors) == (3, 3, 3)
    assert not flow.answered


def test_an_error_about_the_responders_packet_is_counted_on_the_originators_side() -> None:
    """An outside client's flow to the camera; a router cannot deliver the camera's reply."""
    cam, client, router = HOSTS["v4"]
    probe = packet("v4", client, cam, UDP(sport=40000, dport=8000) / b"probe")
    reply = packet("v4", cam, client, UDP(sport=8000, dport=40000) / b"reply")
    table = FlowTable()
    ingest(table, [probe, reply, error_about("v4", reply, router)])
    (flow,) = table.flows.values()
    assert (flow.orig_addr, flow.orig_pkts, flow.resp_pkts) == (client, 2, 1)
    assert flow.icmp_errors == 0 and flow.answered


def replay(frames: list[Packet], light: bool, batches: int = 1) -> Pipeline:
    """``frames`` through a pipeline (default policy), in ``batches`` batches."""
    pipe = Pipeline(default_policy(), load_catalog(), PipelineSettings(light_flows=light))
    size = -(-len(frames) // batches)
    for start in range(0, len(frames), size):
        part = frames[start : start + size]
        pipe.process(batch_of(part, [T0 + (start + i) * 0.01 for i in range(len(part))]))
    pipe.finish()
    return pipe


def findings(pipe: Pipeline) -> list[tuple[str, str, str | None, int | None, str, bool, int]]:
    def row(f: Finding) -> tuple[str, str, str | None, int | None, str, bool, int]:
        return (f.kind.value, f.device, f.peer, f.peer_port, f.proto, f.answered, f.packets)

    return sorted(row(f) for f in pipe.findings.findings())


def assert_nowhere(pipe: Pipeline, router: str) -> None:
    """``router`` is no device and no end of any flow."""
    assert router not in pipe.devices.devices
    assert all(router not in (r.orig_addr, r.resp_addr) for r in pipe.records)
    assert pipe.records


@pytest.mark.parametrize("light", [False, True], ids=["flowstate", "light"])
@pytest.mark.parametrize("version", sorted(HOSTS))
@pytest.mark.parametrize("proto", ["tcp", "udp"])
@pytest.mark.parametrize("inside", [False, True], ids=["outside-router", "gateway"])
def test_an_unseen_outbound_packet_is_an_unanswered_egress_attempt_of_the_device(
    light: bool, version: str, proto: str, inside: bool
) -> None:
    cam, cloud, router = HOSTS[version]
    router = GATEWAYS[version] if inside else router
    unseen = packet(version, cam, cloud, l4_of(proto, 50001, 50002))
    pipe = replay([error_about(version, unseen, router)], light)
    assert findings(pipe) == [("egress", cam, cloud, 50002, proto, False, 1)]
    assert_nowhere(pipe, router)
    # the quoted packet shows the camera sent: a device with its own label, not silent
    assert cam in pipe.devices.devices and cam not in pipe.devices.silent
    assert all(device != "silent" for device, *_ in pipe.counters.flows)


@pytest.mark.parametrize("light", [False, True], ids=["flowstate", "light"])
@pytest.mark.parametrize("batches", [1, 2])
def test_light_and_full_flows_count_a_tcp_attempt_and_its_error_alike(
    light: bool, batches: int
) -> None:
    """A camera's SYNs to an outside port (a light flow) answered only by errors."""
    cam, cloud, router = HOSTS["v4"]
    syn = packet("v4", cam, cloud, TCP(sport=50124, dport=8443, flags="S"))
    frames = [syn, syn, error_about("v4", syn, router), error_about("v4", syn, router)]
    pipe = replay(frames, light, batches)
    assert findings(pipe) == [("egress", cam, cloud, 8443, "tcp", False, 4)]
    (record,) = pipe.records
    assert (record.orig_addr, record.orig_pkts, record.resp_pkts, record.state) == (
        cam, 2, 2, "S0",
    )  # fmt: skip


def test_errors_keep_a_light_flow_light_and_unanswered() -> None:
    cam, cloud, router = HOSTS["v4"]
    syn = packet("v4", cam, cloud, TCP(sport=50124, dport=8443, flags="S"))
    pipe = Pipeline(default_policy(), load_catalog(), PipelineSettings(light_flows=True))
    pipe.process(batch_of([syn, syn], [T0, T0 + 0.01]))
    error = error_about("v4", syn, router)
    pipe.process(batch_of([error, error], [T0 + 0.02, T0 + 0.03]))
    light = pipe.table.light
    assert len(light) == 1 and not pipe.table.flows  # no payload: still a row
    (slot,) = light.live_slots().tolist()
    assert (light["resp_pkts"][slot], light["resp_errors"][slot]) == (2, 2)
    assert not light.answered(light.live_slots())[0]
    flow = pipe.table.make_flowstate(slot)
    assert (flow.orig_addr, flow.icmp_errors, flow.answered) == (cam, 2, False)


@pytest.mark.parametrize("light", [False, True], ids=["flowstate", "light"])
def test_a_device_refusing_an_outside_probe_is_an_unanswered_inbound_attempt(light: bool) -> None:
    cam, scanner, _ = HOSTS["v4"]
    probe = packet("v4", scanner, cam, TCP(sport=40000, dport=23, flags="S"))
    refusal = error_about("v4", probe, cam)  # the camera answers with port unreachable
    pipe = replay([refusal], light)
    assert findings(pipe) == [("inbound", cam, scanner, 23, "tcp", False, 1)]


@pytest.mark.parametrize("light", [False, True], ids=["flowstate", "light"])
def test_the_reported_dns_query_and_host_unreachable_raise_no_inbound_finding(
    light: bool,
) -> None:
    """D-Link frames 30-31: DNS to 192.168.0.1, host unreachable from 130.83.253.186."""
    cam, resolver, router = "10.10.10.37", "192.168.0.1", "130.83.253.186"
    query = packet("v4", cam, resolver, UDP(sport=53159, dport=53) / (b"\x00\x03" + b"q" * 30))
    pipe = replay([query, error_about("v4", query, router)], light)
    assert FindingKind.INBOUND.value not in {f[0] for f in findings(pipe)}
    (record,) = pipe.records
    assert (record.orig_addr, record.resp_addr, record.resp_port) == (cam, resolver, 53)
    assert (record.orig_pkts, record.resp_pkts, record.state) == (1, 1, "S0")
    assert_nowhere(pipe, router)
    assert pipe.flow_count == 1
