"""The flow table's bookkeeping across batches: counters and TCP flags per direction, when
a SYN restarts a flow and when it does not, the timeout boundaries, eviction, flow ids,
the head frames handed to the dissectors and what a batch reports.

Times are seconds of packet time; a timeout ends a flow once it is *exceeded*
(``FlowSettings``: idle, closed-TCP, active), so a flow exactly at its timeout lives on.
"""

from __future__ import annotations

import numpy as np
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP

from monitor.flow.state import TCP_ACK, TCP_SYN
from monitor.flow.table import FlowSettings, FlowTable
from monitor.model import EndReason
from tests.unit.test_flow_table import CAM, OUT, E, ingest, tcp

PSH = 0x08
T = 1_700_000_000.0  # a realistic packet time: sums and differences of times differ


def _udp(src: str, dst: str, sport: int, dport: int) -> object:
    return E / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / b"data"


@pytest.mark.parametrize(
    ("server", "client"),
    [(1023, 1024), (32767, 32768), (1023, 32768), (80, 1024)],
)
def test_the_port_in_the_higher_range_is_the_client(server: int, client: int) -> None:
    """Without a SYN, the side whose port is more ephemeral (well-known < 1024 <= registered
    < 32768 <= dynamic) originated, even when only the server's answer was captured."""
    table = FlowTable()
    ingest(table, [_udp(OUT, CAM, server, client)], [T])
    (flow,) = table.flows.values()
    assert (flow.orig_addr, flow.orig_port, flow.resp_port) == (CAM, client, server)


def test_counters_and_flags_add_up_over_batches_when_the_originator_is_low() -> None:
    """CAM (10.20.1.11) sorts below OUT: the originator is the low end of the key."""
    table = FlowTable()
    syn = tcp(CAM, OUT, 50000, 443, "S")
    synack = tcp(OUT, CAM, 443, 50000, "SA")
    data = tcp(CAM, OUT, 50000, 443, "PA", b"x" * 100)
    ack = tcp(OUT, CAM, 443, 50000, "A")
    ingest(table, [syn, synack], [T, T + 1])
    ingest(table, [data, ack, data], [T + 2, T + 3, T + 4])
    (flow,) = table.flows.values()
    assert flow.orig_is_low and flow.orig_addr == CAM
    assert (flow.orig_pkts, flow.resp_pkts) == (3, 2)
    assert flow.orig_bytes == len(bytes(syn)) + 2 * len(bytes(data))
    assert flow.resp_bytes == len(bytes(synack)) + len(bytes(ack))
    assert flow.orig_flags == TCP_SYN | TCP_ACK | PSH
    assert flow.resp_flags == TCP_SYN | TCP_ACK
    assert flow.last_ts == T + 4


def test_counters_and_flags_add_up_over_batches_when_the_originator_is_high() -> None:
    """OUT opens the connection: the originator is the high end of the key."""
    table = FlowTable()
    syn = tcp(OUT, CAM, 50000, 554, "S")
    synack = tcp(CAM, OUT, 554, 50000, "SA")
    data = tcp(OUT, CAM, 50000, 554, "PA", b"y" * 60)
    ack = tcp(CAM, OUT, 554, 50000, "A")
    ingest(table, [syn, synack], [T, T + 1])
    ingest(table, [data, ack, data, ack], [T + 2, T + 3, T + 4, T + 5])
    (flow,) = table.flows.values()
    assert not flow.orig_is_low and flow.orig_addr == OUT
    assert (flow.orig_pkts, flow.resp_pkts) == (3, 3)
    assert flow.orig_bytes == len(bytes(syn)) + 2 * len(bytes(data))
    assert flow.resp_bytes == len(bytes(synack)) + 2 * len(bytes(ack))
    assert flow.orig_flags == TCP_SYN | TCP_ACK | PSH
    assert flow.resp_flags == TCP_SYN | TCP_ACK


def test_a_syn_ack_in_a_later_batch_continues_the_open_flow() -> None:
    table = FlowTable()
    first = ingest(table, [tcp(CAM, OUT, 50000, 443, "S")], [T])
    later = ingest(table, [tcp(OUT, CAM, 443, 50000, "SA")], [T + 1])
    assert len(first.new) == 1
    assert later.new == [] and later.ended == []
    assert table.created == 1
    (flow,) = table.flows.values()
    assert later.group_flow == [flow] and (flow.orig_pkts, flow.resp_pkts) == (1, 1)


def _closed_flow(table: FlowTable) -> None:
    ingest(
        table,
        [tcp(CAM, OUT, 50000, 443, "S"), tcp(OUT, CAM, 443, 50000, "SA"),
         tcp(CAM, OUT, 50000, 443, "FA"), tcp(OUT, CAM, 443, 50000, "FA")],
        [T, T + 0.1, T + 0.2, T + 0.3],
    )  # fmt: skip
    (flow,) = table.flows.values()
    assert flow.closed


def test_a_new_syn_after_a_close_starts_a_new_flow() -> None:
    """Port reuse: half a second after the FINs the client opens again."""
    table = FlowTable()
    _closed_flow(table)
    (old,) = table.flows.values()
    res = ingest(table, [tcp(CAM, OUT, 50000, 443, "S")], [T + 0.8])
    assert res.ended == [(old, EndReason.TCP_CLOSE)]
    assert len(res.new) == 1 and res.new[0] is not old and table.created == 2
    assert res.new[0].orig_pkts == 1 and res.new[0].resp_pkts == 0


def test_a_syn_at_the_same_instant_as_the_close_does_not_restart() -> None:
    """No time passed since the flow's last packet: it is the same connection."""
    table = FlowTable()
    _closed_flow(table)
    res = ingest(table, [tcp(CAM, OUT, 50000, 443, "S")], [T + 0.3])
    assert res.new == [] and res.ended == [] and table.created == 1


def test_a_packet_exactly_at_the_idle_timeout_continues_the_flow() -> None:
    table = FlowTable(FlowSettings(idle_timeout=60))
    ingest(table, [tcp(CAM, OUT, 50000, 443, "S")], [T])
    res = ingest(table, [tcp(OUT, CAM, 443, 50000, "SA")], [T + 60])
    assert res.new == [] and res.ended == [] and table.created == 1
    res = ingest(table, [tcp(CAM, OUT, 50000, 443, "A")], [T + 120])
    assert res.new == [] and res.ended == []


def test_a_syn_retransmitted_exactly_at_the_idle_timeout_continues_the_flow() -> None:
    table = FlowTable(FlowSettings(idle_timeout=60))
    ingest(table, [tcp(CAM, OUT, 50000, 443, "S")], [T])
    res = ingest(table, [tcp(CAM, OUT, 50000, 443, "S")], [T + 60])
    assert res.new == [] and res.ended == [] and table.created == 1
    (flow,) = table.flows.values()
    assert flow.orig_pkts == 2


def test_an_idle_syn_flow_restarts_as_idle_not_as_closed() -> None:
    table = FlowTable(FlowSettings(idle_timeout=60))
    ingest(table, [tcp(CAM, OUT, 50000, 443, "S")], [T])
    (old,) = table.flows.values()
    res = ingest(table, [tcp(CAM, OUT, 50000, 443, "S")], [T + 61])
    assert res.ended == [(old, EndReason.IDLE_TIMEOUT)] and len(res.new) == 1


def test_nothing_expires_before_its_timeouts() -> None:
    table = FlowTable(FlowSettings(idle_timeout=60, tcp_closed_timeout=10, active_timeout=100))
    ingest(table, [_udp(CAM, OUT, 40000, 9999)], [T])
    assert list(table.expire(T + 30)) == []
    assert list(table.expire(T + 60)) == []  # exactly the idle timeout: not yet
    assert len(table.flows) == 1


def test_a_closed_flow_expires_after_the_closed_timeout_not_at_it() -> None:
    table = FlowTable(FlowSettings(tcp_closed_timeout=10))
    _closed_flow(table)
    assert list(table.expire(T + 0.3 + 10)) == []
    ((_flow, reason),) = list(table.expire(T + 0.3 + 10.5))
    assert reason == EndReason.TCP_CLOSE and not table.flows


def test_the_active_timeout_counts_from_the_last_interim_record() -> None:
    table = FlowTable(FlowSettings(active_timeout=100, idle_timeout=1000))
    pkt = _udp(CAM, "10.20.0.2", 40000, 5004)
    ingest(table, [pkt] * 3, [T, T + 60, T + 100])
    assert list(table.expire(T + 100)) == []  # exactly the active timeout: not yet
    ((flow, reason),) = list(table.expire(T + 130))
    assert reason == EndReason.ACTIVE_TIMEOUT
    assert flow.segment_start == (T + 130, 3, flow.orig_bytes, 0, 0)
    ingest(table, [pkt], [T + 170])
    assert list(table.expire(T + 200)) == []  # 70 s into the new segment
    ((again, reason),) = list(table.expire(T + 231))
    assert again is flow and reason == EndReason.ACTIVE_TIMEOUT


def test_eviction_drops_the_least_recently_active_flow_one_at_a_time() -> None:
    table = FlowTable(FlowSettings(max_flows=10))
    frames = [_udp(CAM, OUT, 40000 + i, 53) for i in range(11)]
    res = ingest(table, frames, [T + i for i in range(11)])
    assert table.evictions == 1 and len(table.flows) == 10
    ((victim, reason),) = res.ended
    assert reason == EndReason.EVICTED and victim.orig_port == 40000


def test_eviction_drops_one_percent_of_a_full_table() -> None:
    table = FlowTable(FlowSettings(max_flows=1000))
    frames = [_udp(CAM, OUT, 20000 + i, 53) for i in range(1001)]
    res = ingest(table, frames, [T + i for i in range(1001)])
    assert table.evictions == 10 and len(table.flows) == 991
    assert sorted(f.orig_port for f, _ in res.ended) == list(range(20000, 20010))


def test_flow_ids_are_numbered_in_order_of_creation() -> None:
    table = FlowTable()
    frames = [_udp(CAM, OUT, 40000 + i, 9999) for i in range(3)]
    ingest(table, frames, [T, T + 1, T + 2])
    ingest(table, [_udp(CAM, OUT, 41000, 9999)], [T + 3])
    assert sorted(f.uid for f in table.flows.values()) == [
        "F00000001",
        "F00000002",
        "F00000003",
        "F00000004",
    ]


def test_head_frames_continue_where_the_last_batch_stopped() -> None:
    table = FlowTable(FlowSettings(head_packets=3))
    pkt = _udp(CAM, "10.20.0.2", 40000, 5004)
    assert ingest(table, [pkt] * 2).head_mask.tolist() == [True, True]
    assert ingest(table, [pkt] * 5).head_mask.tolist() == [True, False, False, False, False]
    assert not ingest(table, [pkt] * 5).head_mask.any()


def test_head_frames_of_interleaved_flows() -> None:
    table = FlowTable(FlowSettings(head_packets=3))
    a = _udp(CAM, "10.20.0.2", 40000, 5004)
    b = _udp(CAM, "10.20.0.3", 40000, 5004)
    res = ingest(table, [a, a, b, a, a, b, a, b, b])
    assert res.head_mask.tolist() == [True, True, True, True, False, True, False, True, False]


def test_a_batch_maps_each_frame_to_its_flow() -> None:
    table = FlowTable()
    arp = E / ARP(psrc=CAM, pdst="10.20.0.2")
    res = ingest(table, [_udp(CAM, OUT, 40000, 9999), arp, _udp(CAM, OUT, 40001, 9999)])
    first, second = res.new
    assert (res.flow_of(0), res.flow_of(1), res.flow_of(2)) == (first, None, second)
    assert res.pending == [first, second]


def test_settled_flows_are_no_longer_pending() -> None:
    table = FlowTable()
    pkt = _udp(CAM, OUT, 40000, 9999)
    (flow,) = ingest(table, [pkt]).pending
    flow.settled = True
    res = ingest(table, [pkt])
    assert res.pending == [] and res.group_flow == [flow]


def test_a_batch_without_ip_frames_touches_no_flow() -> None:
    table = FlowTable()
    arp = E / ARP(psrc=CAM, pdst="10.20.0.2")
    res = ingest(table, [arp, arp, arp])
    assert (res.new, res.pending, res.ended, res.group_flow) == ([], [], [], [])
    assert res.frame_group.tolist() == [-1, -1, -1]
    assert res.head_mask.dtype == np.bool_ and not res.head_mask.any()
    assert res.frame_low.dtype == np.bool_ and res.frame_low.tolist() == [False] * 3
    assert [res.flow_of(i) for i in range(3)] == [None, None, None]
    assert not table.flows
