"""The flow table's light-flow half: which groups of a batch become or stay light flows.

:class:`LightIngest` is mixed into :class:`~monitor.flow.table.FlowTable`. Per batch it
finds the groups that belong to light flows (:mod:`monitor.flow.light`), restarts,
promotes (on payload) or counts them, and turns new payload-free IPv4 TCP flows that the
table's ``light_gate`` accepts into rows, all with numpy; the table's Python loop then
sees only the other groups. The initiator rule here is :meth:`FlowTable._sender_is_orig`
for many flows at once (the oracle test replays captures with and without light flows).
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from monitor.decode.frames import DecodedBatch
from monitor.flow.batch import _NO_SLOTS, BatchResult
from monitor.flow.grouping import Groups
from monitor.flow.key import v4_text
from monitor.flow.state import TCP_RST, TCP_SYN, FlowState
from monitor.model import IPPROTO_TCP, EndReason

if TYPE_CHECKING:
    from monitor.flow.light import LightFlows
    from monitor.flow.settings import FlowSettings

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


def _port_scores(ports: I64) -> I64:
    """How "ephemeral" each port looks: 0 well-known, 1 registered, 2 dynamic."""
    return np.where(ports < 1024, 0, np.where(ports < 32768, 1, 2))


class LightIngest:
    """Light-flow methods of the flow table (see the module docstring).

    The attributes below are the host's (:class:`FlowTable` declares them, as slots). mypy
    checks a write against this mixin's empty ``__slots__`` only (python/mypy#21794), so
    the writes to counters carry ``type: ignore[misc]``.
    """

    __slots__ = ()
    settings: FlowSettings
    flows: dict[int, FlowState]
    light: LightFlows
    light_gate: Any
    on_promote: Any
    evictions: int
    created: int
    _uid_seq: int
    uid_step: int

    def __len__(self) -> int:
        return len(self.flows) + len(self.light)

    def _light_groups(
        self, d: DecodedBatch, g: Groups, result: BatchResult
    ) -> npt.NDArray[np.bool_]:
        """Count the groups that are (or become) light flows; the mask of the others."""
        light = self.light
        slot = light.slots_of(g.keys)
        payload = (d.payload_len[g.members] > 0).astype(np.int64)
        has_payload = np.add.reduceat(payload, g.starts) > 0
        heavy = np.ones(len(g), dtype=np.bool_)
        known = np.flatnonzero(slot >= 0)
        if known.size:
            self._light_known(g, known, slot, has_payload, heavy, result)
        if self.light_gate is not None:
            self._light_new(d, g, slot, has_payload, heavy, result)
        result.group_light = slot
        return heavy

    def _light_known(
        self,
        g: Groups,
        known: I64,
        slot: I64,
        has_payload: npt.NDArray[np.bool_],
        heavy: npt.NDArray[np.bool_],
        result: BatchResult,
    ) -> None:
        """Light flows seen again: end and restart, promote on payload, else count."""
        light = self.light
        slots = slot[known]
        gap = g.first_ts[known] - light["last_ts"][slots]
        syn = g.low_syn[known] | g.high_syn[known]
        closed = light.closed(slots)
        restart = (gap > self.settings.idle_timeout) | (syn & (gap > 0) & closed)
        if restart.any():
            gone = slots[restart]
            light.detach(gone)
            shut = closed[restart]
            result.light_ended.append((gone[~shut], EndReason.IDLE_TIMEOUT))
            result.light_ended.append((gone[shut], EndReason.TCP_CLOSE))
            slot[known[restart]] = -1  # a new flow of the same key, decided below
        promote = ~restart & has_payload[known]
        for s in slots[promote].tolist():
            flow = self._promote(s)
            self.flows[flow.key] = flow
            result.promoted.append(flow)
        if promote.any():
            gone = slots[promote]
            light.detach(gone)
            light.free(gone)
            slot[known[promote]] = -1
        stay = ~restart & ~promote
        self._count_light(g, known[stay], slots[stay])
        heavy[known[stay]] = False
        result.light_touched = np.concatenate([result.light_touched, slots[stay]])

    def _light_new(
        self,
        d: DecodedBatch,
        g: Groups,
        slot: I64,
        has_payload: npt.NDArray[np.bool_],
        heavy: npt.NDArray[np.bool_],
        result: BatchResult,
    ) -> None:
        """New payload-free IPv4 TCP flows the gate accepts become light flows."""
        assert self.light_gate is not None
        rep = g.rep
        cand = (slot < 0) & ~has_payload & (d.version[rep] == 4) & (d.proto[rep] == IPPROTO_TCP)
        cand &= ~d.fragment[rep]
        idx = np.flatnonzero(cand)
        if idx.size and self.flows:
            flows = self.flows
            if len(flows) < 4 * idx.size:  # few FlowStates (a flood): one vectorised test
                known = np.isin(g.keys[idx], np.fromiter(flows, np.uint64, len(flows)))
            else:
                keys = g.keys[idx].tolist()
                known = np.fromiter((k in flows for k in keys), np.bool_, idx.size)
            idx = idx[~known]
        if not idx.size:
            return
        orig_low, o_addr, r_addr, o_port, r_port = self._sides(d, g, idx)
        ok = self.light_gate(o_addr, r_addr, o_port, r_port)
        idx, orig_low = idx[ok], orig_low[ok]
        if not idx.size:
            return
        o_addr, r_addr, o_port, r_port = o_addr[ok], r_addr[ok], o_port[ok], r_port[ok]
        room = self.settings.max_flows - len(self)
        if idx.size > room:
            self._evict_for(idx.size - room, result)
        light = self.light
        slots = light.allocate(g.keys[idx])
        c = light.cols
        step = self.uid_step
        c["uid"][slots] = self._uid_seq + step * (1 + np.arange(idx.size))
        self._uid_seq += step * idx.size  # type: ignore[misc]  # a FlowTable slot
        self.created += idx.size  # type: ignore[misc]  # a FlowTable slot
        c["first_ts"][slots] = g.first_ts[idx]
        c["last_ts"][slots] = g.first_ts[idx]
        c["orig_is_low"][slots] = orig_low
        c["proto"][slots] = IPPROTO_TCP
        c["orig_addr"][slots], c["resp_addr"][slots] = o_addr, r_addr
        c["orig_port"][slots], c["resp_port"][slots] = o_port, r_port
        self._count_light(g, idx, slots)
        heavy[idx] = False
        slot[idx] = slots
        result.light_new = slots
        result.light_touched = np.concatenate([result.light_touched, slots])

    def _sides(
        self, d: DecodedBatch, g: Groups, idx: I64
    ) -> tuple[npt.NDArray[np.bool_], U64, U64, I64, I64]:
        """The initiator rule of :meth:`_sender_is_orig`, for many TCP groups at once:
        whether the originator is the low side, its address and port, the responder's."""
        rep = g.rep[idx]
        rep_low = g.frame_low[rep]
        sport, dport, flags = d.sport[rep], d.dport[rep], d.tcp_flags[rep]
        low_syn, high_syn = g.low_syn[idx], g.high_syn[idx]
        low_synack = g.low_synack[idx]
        high_synack = ((g.high_flags[idx] & TCP_SYN) != 0) & ~high_syn
        s, t = _port_scores(sport), _port_scores(dport)
        reset = (flags & (TCP_RST | TCP_SYN)) == TCP_RST
        by_syn = low_syn != high_syn
        by_synack = ~by_syn & (low_synack != high_synack)
        by_error = ~by_syn & ~by_synack & d.icmp_error[rep]
        by_port = ~by_syn & ~by_synack & ~by_error & (s != t)
        sender_is_orig = np.where(
            by_syn, low_syn == rep_low,
            np.where(by_synack, high_synack == rep_low,
                     ~by_error & np.where(by_port, s > t, ~reset)),
        )  # fmt: skip
        mask = np.uint64(0xFFFFFFFF)  # the key columns: an ICMP error's quote, swapped
        src, dst = d.src_key[rep] & mask, d.dst_key[rep] & mask
        o_addr = np.where(sender_is_orig, src, dst)
        r_addr = np.where(sender_is_orig, dst, src)
        o_port = np.where(sender_is_orig, sport, dport)
        r_port = np.where(sender_is_orig, dport, sport)
        orig_low = np.where(sender_is_orig, rep_low, ~rep_low)
        return orig_low, o_addr, r_addr, o_port, r_port

    def _count_light(self, g: Groups, idx: I64, slots: I64) -> None:
        """Add the batch's packets, bytes and flags of groups ``idx`` to their light rows."""
        c = self.light.cols
        low = c["orig_is_low"][slots]
        c["orig_pkts"][slots] += np.where(low, g.low_pkts[idx], g.high_pkts[idx])
        c["resp_pkts"][slots] += np.where(low, g.high_pkts[idx], g.low_pkts[idx])
        c["orig_bytes"][slots] += np.where(low, g.low_bytes[idx], g.high_bytes[idx])
        c["resp_bytes"][slots] += np.where(low, g.high_bytes[idx], g.low_bytes[idx])
        c["orig_flags"][slots] |= np.where(low, g.low_flags[idx], g.high_flags[idx])
        c["resp_flags"][slots] |= np.where(low, g.high_flags[idx], g.low_flags[idx])
        c["resp_errors"][slots] += np.where(low, g.high_errors[idx], g.low_errors[idx])
        c["last_ts"][slots] = np.maximum(c["last_ts"][slots], g.last_ts[idx])

    def _promote(self, s: int) -> FlowState:
        """A light flow as a FlowState (its payload-free packets already counted)."""
        flow = self.make_flowstate(s)
        if self.on_promote is not None:
            self.on_promote(flow, s)
        return flow

    def make_flowstate(self, s: int) -> FlowState:
        """Light row ``s`` as a FlowState, not entered in the table."""
        c = self.light.cols
        packets = int(c["orig_pkts"][s] + c["resp_pkts"][s])
        return FlowState(
            key=int(c["key"][s]),
            uid=f"F{int(c['uid'][s]):08d}",
            proto=int(c["proto"][s]),
            orig_addr=v4_text(int(c["orig_addr"][s])),
            orig_port=int(c["orig_port"][s]),
            resp_addr=v4_text(int(c["resp_addr"][s])),
            resp_port=int(c["resp_port"][s]),
            orig_is_low=bool(c["orig_is_low"][s]),
            first_ts=float(c["first_ts"][s]),
            last_ts=float(c["last_ts"][s]),
            orig_pkts=int(c["orig_pkts"][s]),
            orig_bytes=int(c["orig_bytes"][s]),
            resp_pkts=int(c["resp_pkts"][s]),
            resp_bytes=int(c["resp_bytes"][s]),
            orig_flags=int(c["orig_flags"][s]),
            resp_flags=int(c["resp_flags"][s]),
            icmp_errors=int(c["resp_errors"][s]),
            head_seen=min(self.settings.head_packets, packets),
        )

    def promote(self, slots: I64) -> list[FlowState]:
        """Turn these light flows into FlowStates now (e.g. for an interim flow record)."""
        out = [self._promote(s) for s in slots.tolist()]
        for flow in out:
            self.flows[flow.key] = flow
        self.light.detach(slots)
        self.light.free(slots)
        return out

    def _evict_for(self, need: int, result: BatchResult) -> None:
        """Make room for ``need`` new flows: the least recently active go first, light rows
        and FlowStates alike, at least 5 % of the table at once (a flood fills the table
        every batch; evicting in chunks keeps the cost per flow low)."""
        count = max(need, len(self) // 20, 1)  # 5 %: a flood evicts every few batches
        light = self.light
        live = light.live_slots()
        last = light["last_ts"][live]
        heavy = heapq.nsmallest(count, self.flows.values(), key=lambda f: f.last_ts)
        stamps = np.concatenate([last, np.asarray([f.last_ts for f in heavy], dtype=np.float64)])
        cut = np.partition(stamps, count - 1)[count - 1] if stamps.size > count else np.inf
        gone = live[last <= cut][:count]
        light.detach(gone)
        result.light_ended.append((gone, EndReason.EVICTED))
        left = count - gone.size
        for f in heavy[: max(left, 0)]:
            if f.last_ts <= cut:
                del self.flows[f.key]
                result.ended.append((f, EndReason.EVICTED))
                left -= 1
        self.evictions += count - max(left, 0)  # type: ignore[misc]  # a FlowTable slot

    def expire_light(self, now: float) -> list[tuple[I64, EndReason]]:
        """Light flows that ended by packet time ``now`` (detached; the caller frees them).

        A light flow past the active timeout is promoted (see :meth:`promote`) by the
        caller when it wants interim records; otherwise it simply goes on.
        """
        light = self.light
        if not len(light):
            return []
        s = self.settings
        live = light.live_slots()
        idle = now - light["last_ts"][live]
        closed = light.closed(live) & (idle > s.tcp_closed_timeout)
        idle_out = ~closed & (idle > s.idle_timeout)
        out = [(live[closed], EndReason.TCP_CLOSE), (live[idle_out], EndReason.IDLE_TIMEOUT)]
        for slots, _ in out:
            light.detach(slots)
        return [(slots, why) for slots, why in out if slots.size]

    def active_light(self, now: float) -> I64:
        """Light flows past the active timeout."""
        light = self.light
        if not len(light):
            return _NO_SLOTS
        live = light.live_slots()
        return live[now - light["first_ts"][live] > self.settings.active_timeout]
