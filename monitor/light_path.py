"""The pipeline's light-flow half: settle, count, find and end light flows per batch.

Light flows (:mod:`monitor.flow.light`) are rows, not objects. What the pipeline does to a
FlowState one at a time (:meth:`Pipeline._settle`, ``_commit``, ``_end``) this module does
to many rows at once, with the same rules (:mod:`monitor.classify.light_rules`), so the
counters, findings and devices are those of the FlowState path (tests/unit/
test_light_path.py replays captures both ways). Python runs once per batch and per
distinct device or finding key, not per flow; flow records (``--flows``), the fingerprint
of a device that answered and live alerts still build one FlowState per flow that needs
them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.classify.devices import (
    OTHER_LABEL,
    SILENT_LABEL,
    UNKNOWN,
    UNSEEN_LABELS,
    device_sent,
)
from monitor.classify.evidence import make_record
from monitor.classify.light_rules import EGRESS, INBOUND, INTERNAL, VERDICTS, LightRules
from monitor.classify.verdict import ALLOWED_REASON
from monitor.flow.key import v4_text
from monitor.flow.key_index import KeyIndex, key_index
from monitor.flow.light import LightFlows, max_by, tally_pairs
from monitor.flow.state import FlowState
from monitor.light_findings import evidence, light_finding, light_findings
from monitor.model import DeviceSummary, EndReason, Finding, FindingKind

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
LABEL_CACHE_MAX = 1 << 18
FEW_ROWS = 8  # a device's findings of one kind in a batch: below this, one by one
KIND_OF = {EGRESS: FindingKind.EGRESS, INBOUND: FindingKind.INBOUND}
_OTHER_KEY = 1 << 40  # stands for every host counted as "other" (no IPv4 address is this)


@dataclass(slots=True)
class LightPath:
    """Vectorised settle/commit/end for the light flows of one pipeline."""

    pipe: Any  # the monitor.pipeline.Pipeline that owns it (a layer above: not imported)
    rules: LightRules
    labels: list[tuple[str, str]] = field(default_factory=list)  # label id -> labels
    _label_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    # device address -> label id (a batch's lookups at once, as the flow keys' index)
    _labels_by_address: KeyIndex = field(default_factory=key_index)

    @property
    def light(self) -> LightFlows:
        return self.pipe.table.light

    # -- per batch --------------------------------------------------------------------------
    def classify(self, new: I64) -> None:
        """Verdicts of rows the batch created (before any of them can end: a full table may
        evict rows of the very batch that made them); labels come when rows settle."""
        if new.size:
            self._classify(new)

    def on_batch(self, touched: I64, now: float) -> None:
        """Settle the decided rows among those the batch touched, count the settled ones."""
        if not touched.size:
            return
        c = self.light.cols
        open_ = touched[~c["settled"][touched]]
        if open_.size:
            packets = c["orig_pkts"][open_] + c["resp_pkts"][open_]
            limit = self.pipe.settings.flows.head_packets
            decided = (packets >= limit) | self.light.closed(open_)
            decided |= now - c["first_ts"][open_] >= self.pipe.settings.settle_seconds
            self.settle(open_[decided])
        settled = touched[c["settled"][touched]]
        self.commit(settled)

    def _classify(self, slots: I64) -> None:
        c = self.light.cols
        codes, device_is_orig = self.rules.verdicts(
            c["orig_addr"][slots], c["resp_addr"][slots], c["resp_port"][slots]
        )
        c["verdict"][slots] = codes
        c["dev_orig"][slots] = device_is_orig

    def _labels_of(self, devices: npt.NDArray[np.uint64], spoke: npt.NDArray[np.bool_]) -> I64:
        """Label ids of device addresses (``spoke``: it sent in the row, else ``silent``)."""
        unique, inverse = np.unique(devices, return_inverse=True)  # sorted
        inverse = inverse.reshape(-1)
        ids = self._labels_by_address.lookup(unique)
        missing = np.flatnonzero(ids < 0)
        if missing.size:
            spoken = np.bincount(inverse, weights=spoke, minlength=unique.shape[0]) > 0
            ids[missing] = self._new_labels(unique[missing], spoken[missing])
        return ids[inverse]

    def _new_labels(self, addrs: npt.NDArray[np.uint64], spoke: npt.NDArray[np.bool_]) -> I64:
        """Label ids of addresses not seen before (and remembered for next time)."""
        texts, listed = [v4_text(a) for a in addrs.tolist()], self.rules.in_inventory(addrs)
        labels = self.pipe.devices.labels_many(texts, spoke.tolist(), listed.tolist())
        out = np.fromiter(map(self._label_id, labels), np.int64, addrs.shape[0])
        keep = out != self._label_ids.get((SILENT_LABEL, UNKNOWN), -1)  # may speak up later
        if len(self._labels_by_address) + addrs.shape[0] > LABEL_CACHE_MAX:
            self._labels_by_address = key_index()
        self._labels_by_address.insert(addrs[keep], out[keep])  # "other" stays other
        return out

    def _label_id(self, labels: tuple[str, str]) -> int:
        got = self._label_ids.get(labels)
        if got is None:
            got = self._label_ids[labels] = len(self.labels)
            self.labels.append(labels)
        return got

    def settle_due(self, now: float) -> None:
        """Settle the rows that waited ``settle_seconds`` for their verdict."""
        light = self.light
        if not len(light):
            return
        live = light.live_slots()
        waiting = live[~light["settled"][live]]
        due = now - light["first_ts"][waiting] >= self.pipe.settings.settle_seconds
        self.settle(waiting[due])

    def settle(self, slots: I64, ending: EndReason | None = None) -> None:
        """Count these unsettled rows as flows and raise their findings (Pipeline._settle).

        A row whose peer a DNS answer has named since goes to the full rules instead: it
        is promoted, or, when it is ``ending``, ended as a FlowState.
        """
        if not slots.size:
            return
        named = self.rules.named(self._peers(slots))
        if named.any():
            if ending is None:
                self.pipe.promote(slots[named])
            else:
                for s in slots[named].tolist():
                    self.pipe.end_flow(self.flowstate(s), ending)
            slots = slots[~named]
        c = self.light.cols  # labelled now, as a FlowState is: a host that sent is a device
        dev_orig = c["dev_orig"][slots]
        devices = np.where(dev_orig, c["orig_addr"][slots], c["resp_addr"][slots])
        c["label"][slots] = self._labels_of(devices, device_sent(c, slots) > 0)
        c["settled"][slots] = True
        verdict, label = c["verdict"][slots], c["label"][slots]
        counters = self.pipe.counters
        for (lid, code), n in tally_pairs(label, verdict).items():
            dev, vendor = self.labels[lid]
            counters.flows[(dev, vendor, VERDICTS[code].value)] += n
        self.commit(slots)
        flagged = slots[(verdict == EGRESS) | (verdict == INBOUND)]
        if not flagged.size:
            return
        c["flagged"][flagged] = True
        fv, fl = c["verdict"][flagged], c["label"][flagged]
        for (lid, code), n in tally_pairs(fl, fv).items():
            dev, vendor = self.labels[lid]
            counters.findings[(dev, vendor, KIND_OF[code].value)] += n
        if self.pipe.on_finding is not None:
            names = [self.labels[lid][0] for lid in c["label"][flagged].tolist()]
            as_other = [OTHER_LABEL if n == OTHER_LABEL else None for n in names]
            kinds = [KIND_OF[code] for code in c["verdict"][flagged].tolist()]
            for finding in light_findings(self.light, flagged, as_other, kinds):
                self.pipe.on_finding(finding)

    def commit(self, slots: I64) -> None:
        """Move what settled rows carried since their last commit into the counters."""
        if not slots.size:
            return
        c = self.light.cols
        op, ob, rp, rb = (
            c[k][slots] for k in ("orig_pkts", "orig_bytes", "resp_pkts", "resp_bytes")
        )
        c0, c1, c2, c3 = (c[k][slots] for k in ("c_orig_pkts", "c_orig_bytes", "c_resp_pkts",
                                                 "c_resp_bytes"))  # fmt: skip
        moved = (op != c0) | (rp != c2)
        if not moved.any():
            return
        slots, op, ob, rp, rb = slots[moved], op[moved], ob[moved], rp[moved], rb[moved]
        c0, c1, c2, c3 = c0[moved], c1[moved], c2[moved], c3[moved]
        c["c_orig_pkts"][slots], c["c_orig_bytes"][slots] = op, ob
        c["c_resp_pkts"][slots], c["c_resp_bytes"][slots] = rp, rb
        dev_orig = c["dev_orig"][slots]
        out_b = np.where(dev_orig, ob - c1, rb - c3)
        in_b = np.where(dev_orig, rb - c3, ob - c1)
        sent = np.where(dev_orig, op - c0, rp - c2)
        packets = op - c0 + rp - c2
        counters = self.pipe.counters
        label, verdict = c["label"][slots], c["verdict"][slots]
        key = label * 4 + verdict
        uniq, inverse = np.unique(key, return_inverse=True)
        inverse = inverse.reshape(-1)
        sums = [
            np.bincount(inverse, weights=w, minlength=uniq.size) for w in (packets, out_b, in_b)
        ]
        last = c["last_ts"][slots]
        for j, k in enumerate(uniq.tolist()):
            dev, vendor = self.labels[k // 4]
            base = (dev, vendor, VERDICTS[k % 4].value)
            counters.packets[base] += int(sums[0][j])
            counters.bytes[(*base, "out")] += int(sums[1][j])
            counters.bytes[(*base, "in")] += int(sums[2][j])
        seen = sent > 0
        if seen.any():
            for lid, ts in max_by(label[seen], last[seen]).items():
                dev = self.labels[lid][0]
                if dev not in UNSEEN_LABELS and counters.device_last_seen.get(dev, 0.0) < ts:
                    counters.device_last_seen[dev] = ts

    def _device_is_orig(self, slots: I64) -> npt.NDArray[np.bool_]:
        return self.light.cols["dev_orig"][slots]

    def _peers(self, slots: I64) -> npt.NDArray[np.uint64]:
        c = self.light.cols
        dev_orig = self._device_is_orig(slots)
        return np.where(dev_orig, c["resp_addr"][slots], c["orig_addr"][slots])

    # -- the end of light flows ---------------------------------------------------------------
    def end(self, slots: I64, reason: EndReason) -> None:
        """Account detached rows that ended (Pipeline._end), then free them."""
        if not slots.size:
            return
        c = self.light.cols
        self.settle(slots[~c["settled"][slots]], ending=reason)
        done = c["settled"][slots]
        self.light.free(slots[~done])  # a named peer's row ended as a FlowState
        slots = slots[done]
        self.commit(slots)
        pipe = self.pipe
        if pipe.settings.keep_records or pipe.settings.fingerprint:
            answered = self.light.answered(slots)
            needs = (
                slots
                if pipe.settings.keep_records
                else slots[answered & (c["verdict"][slots] == INBOUND)]
            )
            for s in needs.tolist():
                flow = self.flowstate(s)
                if pipe.settings.keep_records:
                    pipe.records.append(make_record(flow, reason))
                if pipe.settings.fingerprint:
                    pipe.prints.on_flow(flow, pipe.policy.is_closed)
        self._account_devices(slots)
        flagged = slots[c["flagged"][slots]]
        if flagged.size:
            self._findings(flagged)
            keys, first, last = (c[k][flagged].copy() for k in ("key", "first_ts", "last_ts"))
            self.pipe.flagged.append((keys, first, last))
        if pipe.flow_sink is not None:  # EVE flow events (replay --eve)
            pipe.flow_sink.rows(self.light, slots, reason)
        self.light.free(slots)

    def _account_devices(self, slots: I64) -> None:
        """Per-host report totals: the device end of each row (the other end is outside)."""
        c = self.light.cols
        dev_orig = self._device_is_orig(slots)
        device = np.where(dev_orig, c["orig_addr"][slots], c["resp_addr"][slots])
        size = c["orig_bytes"][slots] + c["resp_bytes"][slots]
        packets = c["orig_pkts"][slots] + c["resp_pkts"][slots]
        flagged = c["flagged"][slots].astype(np.int64)
        verdict = c["verdict"][slots]
        first, last = c["first_ts"][slots], c["last_ts"][slots]
        # hosts beyond the device limit add up in the one "other" summary
        is_other = np.fromiter((d == OTHER_LABEL for d, _ in self.labels), np.bool_)
        device = np.where(is_other[c["label"][slots]], np.uint64(_OTHER_KEY), device)
        uniq, inverse = np.unique(device, return_inverse=True)
        inverse = inverse.reshape(-1)
        n = uniq.size
        sums = {
            "packets": np.bincount(inverse, weights=packets, minlength=n),
            "bytes": np.bincount(inverse, weights=size, minlength=n),
            "flows": np.bincount(inverse, minlength=n),
            "findings": np.bincount(inverse, weights=flagged, minlength=n),
            "spoke": np.bincount(inverse, weights=device_sent(c, slots), minlength=n),
        }
        sent = np.where(dev_orig, c["orig_bytes"][slots], c["resp_bytes"][slots])
        by_verdict = [[np.bincount(inverse, weights=np.where(verdict == v, w, 0), minlength=n)
                       for w in (size, sent)] for v in range(len(VERDICTS))]  # fmt: skip
        firsts = np.full(n, np.inf)
        np.minimum.at(firsts, inverse, first)
        lasts = np.full(n, -np.inf)
        np.maximum.at(lasts, inverse, last)
        book = self.pipe.devices
        for j, addr in enumerate(uniq.tolist()):
            name = OTHER_LABEL if addr == _OTHER_KEY else v4_text(addr)
            delta = DeviceSummary(name, first_ts=float(firsts[j]), last_ts=float(lasts[j]))
            delta.packets, delta.bytes, delta.flows, delta.findings = (
                int(sums[k][j]) for k in ("packets", "bytes", "flows", "findings")
            )
            for v, (both, out) in enumerate(by_verdict):
                if both[j]:
                    delta.add_bytes(VERDICTS[v].value, int(both[j]), int(out[j]))
            book.account(delta, int(sums["spoke"][j]))

    def _findings(self, slots: I64) -> None:
        """Aggregate the findings of ended flagged rows into the pipeline's FindingBook."""
        c = self.light.cols
        verdict, label = c["verdict"][slots], c["label"][slots]
        dev_orig = self._device_is_orig(slots)
        device = np.where(dev_orig, c["orig_addr"][slots], c["resp_addr"][slots])
        peer = np.where(dev_orig, c["resp_addr"][slots], c["orig_addr"][slots])
        # the finding's device: the address, or "other" beyond the device limit
        is_other = np.fromiter((d == OTHER_LABEL for d, _ in self.labels), np.bool_)
        other = is_other[label]
        group = np.where(other, np.uint64(1 << 40), device) * np.uint64(4) + verdict.astype(
            np.uint64
        )
        order = np.argsort(group, kind="stable")
        cuts = np.flatnonzero(np.diff(group[order])) + 1
        parts = np.split(order, cuts)
        few = self._few_findings(slots, parts, other, device, verdict)
        for part in parts:
            rows = slots[part]
            first = int(part[0])
            name = OTHER_LABEL if other[first] else v4_text(int(device[first]))
            kind = KIND_OF[int(verdict[first])]
            if part.size < FEW_ROWS:  # cheaper one by one, as the FlowState path does
                book = self.pipe.findings
                for s in rows.tolist():
                    bare = next(few)
                    if not book.fold_if_full(bare):
                        bare.evidence = evidence(bare, bool(c["dev_orig"][s]))
                        book.add(bare)
                continue
            self.pipe.findings.add_rows(
                device=name,
                kind=kind,
                peers=peer[part],
                ports=c["resp_port"][rows],
                first_ts=c["first_ts"][rows],
                last_ts=c["last_ts"][rows],
                packets=c["orig_pkts"][rows] + c["resp_pkts"][rows],
                sizes=c["orig_bytes"][rows] + c["resp_bytes"][rows],
                answered=self.light.answered(rows),
                describe=lambda i, rows=rows, name=name, kind=kind: light_finding(
                    self.light, rows[i], name, kind
                ),
            )

    def _few_findings(
        self, slots: I64, parts: list[I64], other: npt.NDArray[np.bool_], device: U64,
        verdict: I64,
    ) -> Iterator[Finding]:  # fmt: skip
        """The unworded findings of the groups of fewer than FEW_ROWS rows, in group order,
        made in one pass (their community ids hashed together)."""
        small = [p for p in parts if p.size < FEW_ROWS]
        if not small:
            return iter(())
        at = np.concatenate(small)
        names = [OTHER_LABEL if o else v4_text(d) for o, d in
                 zip(other[at].tolist(), device[at].tolist(), strict=True)]  # fmt: skip
        kinds = [KIND_OF[v] for v in verdict[at].tolist()]
        return iter(light_findings(self.light, slots[at], names, kinds, worded=False))

    def flowstate(self, slot: int) -> FlowState:
        """Row ``slot`` as a (detached) FlowState with its classification."""
        flow = self.pipe.table.make_flowstate(slot)
        self.fill(flow, slot)
        return flow

    def fill(self, flow: FlowState, slot: int) -> None:
        """Carry the row's classification and counting state into ``flow`` (promotion)."""
        c = self.light.cols
        code = int(c["verdict"][slot])
        if code < 0:
            return  # not classified yet: the full rules will decide
        dev_orig = bool(self._device_is_orig(np.asarray([slot], dtype=np.int64))[0])
        flow.device = flow.orig_addr if dev_orig else flow.resp_addr
        flow.peer = flow.resp_addr if dev_orig else flow.orig_addr
        flow.verdict = VERDICTS[code]
        flow.reasons = [ALLOWED_REASON] if code == INTERNAL else []
        if not c["settled"][slot]:
            return
        flow.settled = True
        flow.device_label, flow.vendor_label = self.labels[int(c["label"][slot])]
        key = (flow.device_label, flow.vendor_label, flow.verdict)
        flow.count_keys = (key, (*key, "out"), (*key, "in"))
        flow.committed = tuple(int(c[k][slot]) for k in ("c_orig_pkts", "c_orig_bytes",
                                                          "c_resp_pkts", "c_resp_bytes"))  # type: ignore[assignment]  # fmt: skip
        flow.findings_checked = 0
        if c["flagged"][slot]:
            flow.finding_kinds = [KIND_OF[code].value]
            flow.finding_details = [(None, None)]
