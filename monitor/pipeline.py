"""The packet path shared by replay and live: decode, flows, dissect, classify, count.

Per batch: decode all headers with numpy, aggregate into flows, hand the few head
packets to the dissectors, settle flows whose verdict can no longer change, and move
counters. A flow's packets are counted under its verdict once it settles (at most
``settle_seconds`` of packet time or ``head_packets`` packets after it starts), and
directly from then on, so counters move while a flow is still running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.classify.catalog import VendorCatalog
from monitor.classify.devices import OTHER_LABEL, UNSEEN_LABELS, DeviceBook
from monitor.classify.evidence import make_finding, make_record
from monitor.classify.findings import FindingBook
from monitor.classify.fingerprint import Fingerprinter
from monitor.classify.inspector import SLOW_PATH_PORTS, Inspector
from monitor.classify.light_rules import LightRules
from monitor.classify.names import NameCache
from monitor.classify.verdict import Classifier
from monitor.config import Policy
from monitor.counters import Counters, Snapshot
from monitor.decode.frames import DECODE_ERROR_LAYERS, DecodedBatch, decode_batch
from monitor.decode.mirror_sessions import MirrorSessions
from monitor.decode.tcp_stream import tcp_seq
from monitor.decode.tunnels import GENEVE_PORTS, VXLAN_PORTS, udp_port_table
from monitor.flow.ended import FlowEndSink
from monitor.flow.state import FlowState
from monitor.flow.table import BatchResult, FlowSettings, FlowTable
from monitor.light_path import LightPath
from monitor.model import (
    EndReason,
    Finding,
    FindingKind,
    FlowRecord,
    FrameBatch,
    Verdict,
)

if TYPE_CHECKING:  # only replay --jobs hands the pipeline shared frames
    from monitor.partition import SharedFrames

LOCAL_VERDICTS = (Verdict.INTERNAL, Verdict.SERVICE, Verdict.DISCOVERY)
_SLOW_PORT = np.zeros(65536, dtype=np.bool_)
_SLOW_PORT[list(SLOW_PATH_PORTS)] = True
FindingCallback = Callable[[Finding], None]


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """Knobs of the packet path (packet-time seconds)."""

    flows: FlowSettings = field(default_factory=FlowSettings)
    settle_seconds: float = 2.0
    sweep_seconds: float = 30.0
    snapshot_seconds: float | None = None
    keep_records: bool = True
    keep_names: bool = False
    fingerprint: bool = True  # discovery, DHCP and banner facts about devices (benchmarks: off)
    light_flows: bool = True  # payload-free flows decided by address as columns (flow/light.py)


class Pipeline:
    """One sensor's worth of state: flow table, name cache, devices, counters."""

    def __init__(
        self,
        policy: Policy,
        catalog: VendorCatalog,
        settings: PipelineSettings | None = None,
        interface: str = "replay",
        on_finding: FindingCallback | None = None,
    ) -> None:
        self.settings = settings or PipelineSettings()
        self.policy = policy
        self.interface = interface
        self.names = NameCache()
        fingerprint = self.settings.fingerprint
        self.prints = Fingerprinter(catalog)
        self.inspector = Inspector(
            catalog, self.names, keep_name_log=self.settings.keep_names, fingerprint=fingerprint
        )
        if fingerprint:
            self.inspector.on_discovery = self.prints.on_discovery
            self.inspector.on_dhcp = self.prints.on_dhcp
        self.classifier = Classifier(policy, catalog, self.names)
        limits = policy.limits
        self.devices = DeviceBook(policy, catalog, max_devices=limits.devices)
        self.inspector.tls.on_client = self.devices.tls_clients.add  # devices' fingerprints
        self.table = FlowTable(self.settings.flows)
        self.light_path = LightPath(self, LightRules(policy, catalog, self.names))
        if self.settings.light_flows:
            self.table.light_gate = self.light_path.rules.gate
            self.table.on_promote = self.light_path.fill
        self.counters = Counters()
        self.udp_ports = udp_port_table(
            VXLAN_PORTS + policy.mirror.vxlan, GENEVE_PORTS + policy.mirror.geneve
        )
        self.mirror = MirrorSessions()
        self.on_finding = on_finding
        self.flow_sink: FlowEndSink | None = None  # every ended flow (replay --eve)
        self.records: list[FlowRecord] = []
        self.findings = FindingBook(limits.findings_per_device, limits.findings_per_kind)
        self.flagged: list[tuple[Any, Any, Any]] = []  # (key, first, last); light: arrays
        self.snapshots: list[Snapshot] = []
        self.packets = 0
        self.bytes = 0
        self.undecodable: dict[int, int] = {}  # input (batch.source) -> frames not decoded
        self.flow_count = 0
        self.now: float | None = None
        self.last_result: BatchResult | None = None  # the newest batch, for live evidence
        self._unsettled: dict[str, FlowState] = {}
        self._next_sweep = 0.0
        self._next_settle = 0.0
        self._next_snapshot = 0.0

    # -- the batch path -------------------------------------------------------------
    def process(
        self,
        frames: FrameBatch | DecodedBatch,
        now: float | None = None,
        shared: SharedFrames | None = None,
    ) -> None:
        """Account one batch of frames. A partition (``monitor/partition.py``) passes its
        share, the whole batch's packet time as ``now`` and the other partitions' DNS and
        discovery frames as ``shared``: the inspector reads those in frame order."""
        d = frames if isinstance(frames, DecodedBatch) else None
        batch = frames.batch if isinstance(frames, DecodedBatch) else frames
        if len(batch) == 0:
            if shared is not None:
                shared.run(self.inspector)
            if now is not None:
                self.tick(now)
            return
        d = decode_batch(batch, self.udp_ports) if d is None else d
        self.packets += len(batch)
        self.bytes += int(d.wirelen.sum())
        self.counters.capture_packets[self.interface] += len(batch)
        truncated = int(d.truncated_ip.sum())
        if truncated:
            self.counters.decode_errors["ip"] += truncated
        errors = d.error.any()
        if errors:
            for code, layer in DECODE_ERROR_LAYERS.items():
                self.counters.decode_errors[layer] += int((d.error == code).sum())
        if truncated or errors:  # a clean batch (the usual one) costs no further pass
            bad = int(np.count_nonzero(d.truncated_ip | (d.error != 0)))
            self.undecodable[batch.source] = self.undecodable.get(batch.source, 0) + bad
        if d.tunnel.any():
            self.mirror.add(d)
        result = self.table.ingest(d)
        self.light_path.classify(result.light_new)
        for slots, reason in result.light_ended:
            self.light_path.end(slots, reason)
        for flow, reason in result.ended:
            self.end_flow(flow, reason)
        for flow in result.promoted:
            if not flow.settled:
                self._unsettled[flow.uid] = flow
        touched = self._dissect(d, result, shared)
        now = float(batch.ts.max()) if now is None else now
        self.flow_count += len(result.light_new)
        for flow in result.new:
            self.flow_count += 1
            self._unsettled[flow.uid] = flow
        for flow in result.pending:
            if flow.settled:
                continue
            if self._decided(flow, now):
                self._settle(flow)
                continue
            self.classifier.classify(flow)
            if flow.verdict in LOCAL_VERDICTS:  # nothing a later packet shows can flag it
                self._settle(flow, classified=True)
        for flow in touched:
            if flow.settled:
                self._raise_findings(flow)
        self.light_path.on_batch(result.light_touched, now)
        self.tick(now)
        self.last_result = result

    def _dissect(
        self, d: DecodedBatch, result: BatchResult, shared: SharedFrames | None = None
    ) -> list[FlowState]:
        """Run the dissectors on head frames and on frames of the slow-path ports."""
        slow = (result.head_mask | _SLOW_PORT[d.sport] | _SLOW_PORT[d.dport]) & (d.payload_len > 0)
        batch = d.batch
        touched: dict[str, FlowState] = {}
        rows = np.flatnonzero(slow)
        data = batch.data
        group_flow = result.group_flow
        mac_decided = self.devices.mac_decided  # most senders' MACs are known: no text made
        columns = (
            rows, result.frame_group[rows], d.l2[rows], d.l3[rows], batch.ts[rows],
            d.sport[rows], d.dport[rows], d.payload_off[rows], d.payload_len[rows],
            result.frame_low[rows],
        )  # fmt: skip
        for i, group, l2, l3, ts, src_port, dst_port, start, length, low in zip(
            *(c.tolist() for c in columns), strict=True
        ):
            if shared is not None:
                shared.run(self.inspector, before=i)
            flow = group_flow[group] if group >= 0 else None
            if flow is None:
                continue
            from_orig = low == flow.orig_is_low
            sender = flow.orig_addr if from_orig else flow.resp_addr
            if sender not in mac_decided and l2 >= 0 and l3 - l2 >= 14:  # a whole Ethernet header
                self.devices.learn_mac(sender, data[l2 + 6 : l2 + 12].hex(":"), ts)
            seq = tcp_seq(data, l3, start) if flow.proto == 6 else -1
            self.inspector.inspect(
                flow, bytes(data[start : start + length]), ts, from_orig, src_port, dst_port, seq
            )
            touched[flow.uid] = flow
        if shared is not None:
            shared.run(self.inspector)
        self.inspector.follow.run(d, result, slow, touched)  # TLS past the head
        if self.settings.fingerprint:
            self.inspector.layer2_discovery(d)
        return list(touched.values())

    # -- settling and counting --------------------------------------------------------
    def _decided(self, flow: FlowState, now: float) -> bool:
        """Whether the flow has shown all it will show for its verdict (or waited enough)."""
        if flow.tls is not None and flow.tls.names_pending():  # SNI or certificate to come
            return now - flow.first_ts >= self.settings.settle_seconds
        if flow.head_seen >= self.settings.flows.head_packets or flow.closed:
            return True
        if any(o.what in ("sni", "quic_sni", "http_host", "signature") for o in flow.observations):
            return True
        return now - flow.first_ts >= self.settings.settle_seconds

    def _settle(self, flow: FlowState, classified: bool = False) -> None:
        if not classified:
            self.classifier.classify(flow)
        flow.settled = True
        self._unsettled.pop(flow.uid, None)
        flow.device_label, flow.vendor_label = self.devices.flow_labels(flow)
        key = (flow.device_label, flow.vendor_label, flow.verdict)
        flow.count_keys = (key, (*key, "out"), (*key, "in"))
        self.counters.flows[key] += 1
        self._commit(flow)
        self._raise_findings(flow)

    def _commit(self, flow: FlowState) -> None:
        """Move what a settled flow carried since its last commit into the counters.

        Counters are brought up to date at settle, snapshot and flow end rather than per
        batch, so a long video flow costs nothing between scrapes.
        """
        op, ob, rp, rb = flow.orig_pkts, flow.orig_bytes, flow.resp_pkts, flow.resp_bytes
        c0, c1, c2, c3 = flow.committed
        if op == c0 and rp == c2:
            return
        flow.committed = (op, ob, rp, rb)
        c = self.counters
        keys = flow.count_keys
        c.packets[keys[0]] += op - c0 + rp - c2
        if flow.device == flow.orig_addr:
            out_b, in_b, sent = ob - c1, rb - c3, op - c0
        else:
            out_b, in_b, sent = rb - c3, ob - c1, rp - c2
        c.bytes[keys[1]] += out_b
        c.bytes[keys[2]] += in_b
        dev = flow.device_label
        if sent and dev not in UNSEEN_LABELS and c.device_last_seen.get(dev, 0.0) < flow.last_ts:
            c.device_last_seen[dev] = flow.last_ts

    def _raise_findings(self, flow: FlowState) -> None:
        """Findings of a settled flow, looked for again only when it has shown more."""
        if flow.findings_checked == len(flow.observations):
            return
        flow.findings_checked = len(flow.observations)
        for kind, name, endpoint in self.classifier.findings(flow):
            if kind.value in flow.finding_kinds:
                continue
            flow.finding_kinds.append(kind.value)
            flow.finding_details.append((name, endpoint.name if endpoint else None))
            self.counters.findings[(flow.device_label, flow.vendor_label, kind.value)] += 1
            if endpoint is not None:
                self.counters.endpoint_contacts[(endpoint.vendor, endpoint.name)] += 1
            if self.on_finding is not None:
                finding = make_finding(flow, kind, name, endpoint)
                if flow.device_label == OTHER_LABEL:  # as in the report: one device
                    finding.device = OTHER_LABEL
                self.on_finding(finding)

    # -- time ------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Advance packet time: settle waiting flows, expire idle ones, take snapshots."""
        self.now = now if self.now is None else max(self.now, now)
        now = self.now
        if now >= self._next_settle:
            self._next_settle = now + 1.0
            for flow in list(self._unsettled.values()):
                if now - flow.first_ts >= self.settings.settle_seconds:
                    self._settle(flow)
            self.light_path.settle_due(now)
        if now >= self._next_sweep:
            self._next_sweep = now + self.settings.sweep_seconds
            for flow, reason in list(self.table.expire(now)):
                self.end_flow(flow, reason)
            for slots, reason in self.table.expire_light(now):
                self.light_path.end(slots, reason)
            if self.settings.keep_records:  # interim records are written by the full path
                self.promote(self.table.active_light(now))
        interval = self.settings.snapshot_seconds
        if interval and now >= self._next_snapshot:
            self._next_snapshot = (now // interval + 1) * interval
            self.snapshots.append(self.snapshot())

    def finish(self) -> None:
        """End of input: every live flow ends, a last snapshot is taken."""
        for flow in list(self.table.drain()):
            self.end_flow(flow, EndReason.END_OF_INPUT)
        live = self.table.light.live_slots()
        self.table.light.detach(live)
        self.light_path.end(live, EndReason.END_OF_INPUT)
        if self.settings.snapshot_seconds and self.now is not None:
            self.snapshots.append(self.snapshot())  # refreshes the devices too
        else:
            self.refresh_devices()

    def snapshot(self) -> Snapshot:
        """The counters now, with the gauges brought up to date."""
        for flow in self.table.flows.values():
            if flow.settled:
                self._commit(flow)
        light = self.table.light
        if len(light):
            live = light.live_slots()
            self.light_path.commit(live[light["settled"][live]])
        c = self.counters
        c.flow_table_entries = len(self.table)
        c.flow_table_evictions = self.table.evictions
        c.devices_overflow = self.devices.overflow.count()
        c.last_packet_ts = self.now
        self.refresh_devices()
        c.devices.clear()
        c.devices.update(self.devices.role_counts())
        snap = c.snapshot(self.now)
        return Snapshot(site=self.policy.site, ts=snap.ts, counters=snap.counters)

    def refresh_devices(self) -> None:
        """Summarise the device facts learned so far into the device book."""
        if self.settings.fingerprint:
            self.devices.refresh(self.prints)

    def end_flow(self, flow: FlowState, reason: EndReason) -> None:
        """Account a flow that ended (also a light flow's last word, from light_path)."""
        if not flow.settled:
            self._settle(flow)
        self._commit(flow)
        if self.settings.keep_records:
            self.records.append(make_record(flow, reason))
        if self.settings.fingerprint:
            self.prints.on_flow(flow, self.policy.is_closed)
        if reason == EndReason.ACTIVE_TIMEOUT:
            return
        self.inspector.follow.forget(flow)
        if self.flow_sink is not None:
            self.flow_sink.flow(flow, reason)
        self.devices.account_flow(flow)  # per-host totals: each closed-network end
        catalog = self.classifier.catalog
        for kind, (name, endpoint) in zip(flow.finding_kinds, flow.finding_details, strict=True):
            ep = catalog.endpoint(endpoint) if endpoint else None
            finding = make_finding(flow, FindingKind(kind), name, ep)
            if flow.device_label == OTHER_LABEL:  # beyond the device limit: one device
                finding.device = OTHER_LABEL
            self.findings.add(finding)
        if flow.finding_kinds:
            self.flagged.append((flow.key, flow.first_ts, flow.last_ts))

    def promote(self, slots: np.ndarray) -> None:
        """Turn light flows into FlowStates (payload, a name learned, an interim record)."""
        if not slots.size:
            return
        for flow in self.table.promote(slots):
            if not flow.settled:
                self._unsettled[flow.uid] = flow
