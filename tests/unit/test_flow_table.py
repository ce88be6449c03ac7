"""The flow table: bidirectional keys, initiator rules, timeouts, bounds."""

from __future__ import annotations

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether

from monitor.decode.frames import decode_batch
from monitor.flow.table import FlowSettings, FlowTable
from monitor.model import EndReason
from tests.framebuild import batch_of

E = Ether(src="44:19:b6:00:00:01", dst="00:11:22:33:44:55")
CAM, OUT = "10.20.1.11", "198.51.100.7"


def tcp(src: str, dst: str, sport: int, dport: int, flags: str, payload: bytes = b"") -> object:
    return E / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags) / payload


def ingest(table: FlowTable, frames: list[object], ts: list[float] | None = None):  # type: ignore[no-untyped-def]
    return table.ingest(decode_batch(batch_of(frames, ts)))


def test_both_directions_are_one_flow_with_per_direction_counters() -> None:
    frames = [
        tcp(CAM, OUT, 50000, 443, "S"),
        tcp(OUT, CAM, 443, 50000, "SA"),
        tcp(CAM, OUT, 50000, 443, "A"),
        tcp(CAM, OUT, 50000, 443, "PA", b"x" * 100),
    ]
    table = FlowTable()
    ingest(table, frames)
    (flow,) = table.flows.values()
    assert (flow.orig_addr, flow.orig_port, flow.resp_addr, flow.resp_port) == (
        CAM,
        50000,
        OUT,
        443,
    )
    assert (flow.orig_pkts, flow.resp_pkts) == (3, 1)
    assert flow.orig_bytes == sum(len(bytes(f)) for f in frames) - len(bytes(frames[1]))
    assert flow.answered


def test_the_syn_sender_is_the_originator_even_when_seen_second() -> None:
    table = FlowTable()
    ingest(table, [tcp(OUT, CAM, 443, 50000, "SA"), tcp(CAM, OUT, 50000, 443, "A")])
    (flow,) = table.flows.values()
    assert flow.orig_addr == CAM and flow.resp_port == 443


def test_without_syn_the_ephemeral_port_side_originates() -> None:
    table = FlowTable()
    ingest(table, [E / IP(src=OUT, dst=CAM) / UDP(sport=8800, dport=51000)])
    (flow,) = table.flows.values()
    assert flow.orig_addr == CAM and flow.resp_port == 8800
    assert flow.answered  # the request came before the capture started; the answer is here


def test_a_vlan_tag_on_one_direction_only_does_not_split_the_flow() -> None:
    there = E / Dot1Q(vlan=20) / IP(src=CAM, dst=OUT) / TCP(sport=50000, dport=443, flags="S")
    back = E / IP(src=OUT, dst=CAM) / TCP(sport=443, dport=50000, flags="SA")
    table = FlowTable()
    ingest(table, [there, back])
    assert len(table.flows) == 1


def test_idle_timeout_ends_the_flow_and_a_later_packet_starts_a_new_one() -> None:
    table = FlowTable(FlowSettings(idle_timeout=60))
    ingest(table, [E / IP(src=CAM, dst=OUT) / UDP(sport=40000, dport=9999)], [0.0])
    ended = list(table.expire(100.0))
    assert [r for _, r in ended] == [EndReason.IDLE_TIMEOUT]
    res = ingest(table, [E / IP(src=CAM, dst=OUT) / UDP(sport=40000, dport=9999)], [200.0])
    assert res.new and table.created == 2


def test_a_gap_longer_than_the_idle_timeout_inside_one_input_splits_the_flow() -> None:
    table = FlowTable(FlowSettings(idle_timeout=60))
    pkt = E / IP(src=CAM, dst=OUT) / UDP(sport=40000, dport=9999)
    ingest(table, [pkt], [0.0])
    res = ingest(table, [pkt], [500.0])
    assert [r for _, r in res.ended] == [EndReason.IDLE_TIMEOUT]


def test_active_timeout_writes_an_interim_record_and_keeps_the_flow() -> None:
    table = FlowTable(FlowSettings(active_timeout=100, idle_timeout=1000))
    pkt = E / IP(src=CAM, dst="10.20.0.2") / UDP(sport=40000, dport=5004)
    ingest(table, [pkt] * 3, [0.0, 60.0, 120.0])
    ended = list(table.expire(130.0))
    assert [r for _, r in ended] == [EndReason.ACTIVE_TIMEOUT]
    assert len(table.flows) == 1 and table.flows[ended[0][0].key].segment_start is not None


def test_the_table_is_bounded_and_counts_evictions() -> None:
    table = FlowTable(FlowSettings(max_flows=100))
    frames = [E / IP(src=CAM, dst=OUT) / UDP(sport=40000 + i, dport=53) for i in range(250)]
    ingest(table, frames, [float(i) for i in range(250)])
    assert len(table.flows) <= 100
    assert table.evictions >= 150


def test_head_packets_are_limited_per_flow() -> None:
    table = FlowTable(FlowSettings(head_packets=3))
    pkt = E / IP(src=CAM, dst="10.20.0.2") / UDP(sport=40000, dport=5004) / b"rtp"
    first = ingest(table, [pkt] * 5)
    second = ingest(table, [pkt] * 5)
    assert first.head_mask.tolist() == [True, True, True, False, False]
    assert not second.head_mask.any()
