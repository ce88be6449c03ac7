"""The flow table: per-batch aggregation into bidirectional flows, timeouts on packet time.

Packets of a batch are grouped by flow key with numpy; Python runs once per flow per
batch, not once per packet. The table also picks the "head" packets (the first few of
each flow) that go on to the dissectors.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.decode.frames import DecodedBatch
from monitor.flow.accounting import account_groups
from monitor.flow.batch import BatchResult, LightGate
from monitor.flow.grouping import Groups, group_batch
from monitor.flow.key import address_text
from monitor.flow.light import LightFlows
from monitor.flow.light_ingest import LightIngest
from monitor.flow.settings import FlowSettings
from monitor.flow.state import TCP_RST, TCP_SYN, FlowState
from monitor.model import IPPROTO_TCP, EndReason

__all__ = ["BatchResult", "FlowSettings", "FlowTable"]

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


def _port_score(port: int) -> int:
    """How "ephemeral" a port looks: 0 well-known, 1 registered, 2 dynamic."""
    return 0 if port < 1024 else (1 if port < 32768 else 2)


@dataclass(slots=True)
class FlowTable(LightIngest):
    """All live flows, keyed by 64-bit flow key: FlowStates in ``flows``, light flows
    (no payload, verdict from addresses and ports) as columns in ``light``.

    ``light_gate(orig, resp, orig_port, resp_port)`` (IPv4 addresses as integers) says
    which new payload-free TCP flows may be light; without a gate every flow is a
    FlowState. ``on_promote(flow, slot)`` lets the owner carry its own columns over when
    a light flow becomes a FlowState.
    """

    settings: FlowSettings = field(default_factory=FlowSettings)
    flows: dict[int, FlowState] = field(default_factory=dict)
    light: LightFlows = field(default_factory=LightFlows)
    light_gate: LightGate | None = None
    on_promote: Callable[[FlowState, int], None] | None = None
    evictions: int = 0
    created: int = 0
    collisions: int = 0
    uid_step: int = 1  # partition i of n numbers its flows i+1, i+1+n, ... (replay --jobs)
    _uid_seq: int = 0

    def number_flows(self, first: int, step: int) -> None:
        """Number the flows ``first``, ``first + step``, ... (unique across partitions)."""
        self.uid_step = step
        self._uid_seq = first - step

    def ingest(self, d: DecodedBatch) -> BatchResult:
        """Account every IP frame of ``d`` to its flow; pick the head frames to dissect."""
        n = len(d.batch)
        head_mask = np.zeros(n, dtype=np.bool_)
        new: list[FlowState] = []
        pending: list[FlowState] = []
        ended: list[tuple[FlowState, EndReason]] = []
        if not d.ip.any():
            frame_group = np.full(n, -1, dtype=np.int64)
            frame_low = np.zeros(n, dtype=np.bool_)
            return BatchResult(new, pending, ended, [], frame_group, head_mask, frame_low)
        g = group_batch(d)
        result = BatchResult(new, pending, ended, [None] * len(g), g.frame_group, head_mask,
                             g.frame_low)  # fmt: skip
        heavy = self._light_groups(d, g, result) if (self.light_gate or len(self.light)) else None
        rows = np.flatnonzero(heavy) if heavy is not None else np.arange(len(g))

        def flow_for(key: int, i: int) -> tuple[FlowState, bool]:
            return self._flow_for(key, i, g, d, result)

        head_starts, head_takes = account_groups(
            rows, g, self.flows, flow_for, result, self.settings.head_packets,
            self.settings.idle_timeout,
        )  # fmt: skip
        if head_starts:
            head_mask[g.members[_spans(head_starts, head_takes)]] = True
        if d.icmp_error.any():
            _count_errors(g, rows, result.group_flow)
        return result

    def _flow_for(
        self,
        key: int,
        i: int,
        g: Groups,
        d: DecodedBatch,
        result: BatchResult,
    ) -> tuple[FlowState, bool]:
        """The live flow for group ``i``, starting a new one when the old one is over."""
        flow = self.flows.get(key)
        ended = result.ended
        if flow is not None:
            gap = float(g.first_ts[i]) - flow.last_ts
            restart = gap > self.settings.idle_timeout or (
                bool(g.low_syn[i] or g.high_syn[i]) and gap > 0 and flow.closed
            )
            if not restart:
                return flow, False
            del self.flows[key]
            ended.append((flow, EndReason.IDLE_TIMEOUT if not flow.closed else EndReason.TCP_CLOSE))
        if len(self) >= self.settings.max_flows:
            if len(self.light):
                self._evict_for(1, result)
            else:
                ended.extend((f, EndReason.EVICTED) for f in self._evict())
        flow = self._new_flow(key, i, g, d)
        self.flows[key] = flow
        return flow, True

    def _new_flow(self, key: int, i: int, g: Groups, d: DecodedBatch) -> FlowState:
        rep = g.rep.item(i)  # .item(): a Python number, at half the cost of int(array[i])
        version = d.version.item(rep)
        error = d.icmp_error.item(rep)
        # an ICMP error's sender is the quoted destination: its header's addresses, swapped
        l3 = d.quote_l3.item(rep) if error else d.l3.item(rep)
        src = address_text(d.batch.data, l3, version, source=not error)
        dst = address_text(d.batch.data, l3, version, source=error)
        sport, dport = d.sport.item(rep), d.dport.item(rep)
        rep_low = g.frame_low.item(rep)
        proto = d.proto.item(rep)
        sender_is_orig = self._sender_is_orig(
            i, g, rep_low, sport, dport, proto, d.tcp_flags.item(rep), error
        )
        self._uid_seq += self.uid_step
        self.created += 1
        if sender_is_orig:
            o, op, r, rp, orig_low = src, sport, dst, dport, rep_low
        else:
            o, op, r, rp, orig_low = dst, dport, src, sport, not rep_low
        first_ts = g.first_ts.item(i)
        # key, uid, proto, orig_addr, orig_port, resp_addr, resp_port, orig_is_low, first_ts,
        # last_ts: by position, at half the cost of keywords (once per flow)
        return FlowState(key, f"F{self._uid_seq:08d}", proto, o, op, r, rp, orig_low, first_ts,
                         first_ts)  # fmt: skip

    @staticmethod
    def _sender_is_orig(
        i: int, g: Groups, rep_low: bool, sport: int, dport: int, proto: int, rep_flags: int,
        rep_error: bool,
    ) -> bool:  # fmt: skip
        """Whether the sender of the flow's first frame in this batch is the originator.

        The initiator rule, first match wins: the side that sent a bare SYN; the other side
        of the one that sent a SYN-ACK; the other side of an ICMP error (it answers the
        packet it quotes, which that side sent); the side with the more ephemeral port; the
        other side of a reset (a RST answers, it does not open); else the first sender.
        """
        if proto == IPPROTO_TCP:
            low_syn, high_syn = g.low_syn.item(i), g.high_syn.item(i)
            if low_syn != high_syn:
                return low_syn == rep_low
            # a SYN that is not a bare SYN carries an ACK: that side answered
            low_synack = g.low_synack.item(i)
            high_synack = bool(g.high_flags.item(i) & TCP_SYN) and not high_syn
            if low_synack != high_synack:
                return high_synack == rep_low
        if rep_error:
            return False
        s, t = _port_score(sport), _port_score(dport)
        if s != t:
            return s > t
        reset = proto == IPPROTO_TCP and rep_flags & (TCP_RST | TCP_SYN) == TCP_RST
        return not reset

    def _evict(self) -> list[FlowState]:
        """Drop the least recently active 1% of flows to make room."""
        count = max(1, len(self.flows) // 100)
        victims = heapq.nsmallest(count, self.flows.values(), key=lambda f: f.last_ts)
        for f in victims:
            del self.flows[f.key]
        self.evictions += len(victims)
        return victims

    def expire(self, now: float) -> Iterator[tuple[FlowState, EndReason]]:
        """Flows that ended by packet time ``now``: idle, closed, or past the active timeout.

        Active-timeout flows stay in the table; they are yielded so an interim record can
        be written, and their segment restarts.
        """
        s = self.settings
        for key, f in list(self.flows.items()):
            idle = now - f.last_ts
            if f.closed and idle > s.tcp_closed_timeout:
                del self.flows[key]
                yield f, EndReason.TCP_CLOSE
            elif idle > s.idle_timeout:
                del self.flows[key]
                yield f, EndReason.IDLE_TIMEOUT
            elif now - (f.segment_start[0] if f.segment_start else f.first_ts) > s.active_timeout:
                yield f, EndReason.ACTIVE_TIMEOUT
                f.segment_start = (now, f.orig_pkts, f.orig_bytes, f.resp_pkts, f.resp_bytes)

    def drain(self) -> Iterator[FlowState]:
        """Every flow still live (end of input); the table is empty afterwards."""
        flows, self.flows = self.flows, {}
        yield from flows.values()

    def flagged_frames(self, result: BatchResult | None) -> npt.NDArray[np.bool_] | None:
        """Mask of the frames of ``result``'s batch whose flow has raised a finding; None
        when there are none (live evidence capture writes these frames)."""
        if result is None or not result.group_flow:
            return None
        flows = result.group_flow
        flagged = np.fromiter(
            (f is not None and bool(f.finding_kinds) for f in flows), np.bool_, len(flows)
        )
        light = result.group_light
        if light.size:
            on = light >= 0
            flagged[on] |= self.light["flagged"][light[on]]
        if not flagged.any():
            return None
        group = result.frame_group
        mask: npt.NDArray[np.bool_] = (group >= 0) & flagged[np.maximum(group, 0)]
        return mask


def _count_errors(g: Groups, rows: I64, group_flow: list[FlowState | None]) -> None:
    """Count, in the FlowState of each group in ``rows``, the ICMP errors among its
    responder's packets."""
    low, high = g.low_errors, g.high_errors
    for i in rows[(low[rows] | high[rows]) != 0].tolist():
        flow = group_flow[i]
        if flow is not None:
            flow.icmp_errors += int(high[i] if flow.orig_is_low else low[i])


def _spans(starts: list[int], lengths: list[int]) -> I64:
    """The indices ``start .. start + length - 1`` of every span, concatenated."""
    length = np.asarray(lengths, dtype=np.int64)
    ends = np.cumsum(length)
    shift = np.asarray(starts, dtype=np.int64) - (ends - length)  # start minus output offset
    spans: I64 = np.arange(int(ends[-1]), dtype=np.int64) + np.repeat(shift, length)
    return spans
