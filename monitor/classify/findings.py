"""Findings aggregate: one per (device, kind, peer, peer_port, proto), bounded per device.

A camera that scans the internet opens a million flows; the auditor needs one line that
says so, not a million. Flows with the same key merge into one finding that counts them
(``flows``, summed packets and bytes, first and last time, answered if any was). Per
device and kind at most ``max_findings`` keys get findings of their own; flows with
further keys fold into one summary finding for that device and kind (``peer`` null,
``peers`` and ``ports`` counted, a few ``sample_peers``), whose evidence says "scan of N
outside addresses". Memory is bounded by devices x kinds x (max_findings + 1).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from monitor.classify.distinct import DistinctCount
from monitor.classify.evidence import evidence_tail
from monitor.model import Finding, FindingKind

Key = tuple[str, str, str | None, int | None, str]  # device, kind, peer, peer_port, proto
DeviceKind = tuple[str, str]
MAX_FINDINGS = 256  # per device and kind, before further peers fold into a summary
SAMPLE_PEERS = 5


@dataclass(slots=True)
class _Summary:
    """What a summary finding has folded in so far."""

    finding: Finding
    peers: DistinctCount = field(default_factory=DistinctCount)
    ports: DistinctCount = field(default_factory=DistinctCount)
    protos: set[str] = field(default_factory=set)
    vendors: set[str | None] = field(default_factory=set)


@dataclass(slots=True)
class FindingBook:
    """The findings of a run, aggregated by key and bounded per device and kind."""

    max_findings: int = MAX_FINDINGS
    _entries: dict[Key, Finding] = field(default_factory=dict)
    _bases: dict[Key, str] = field(default_factory=dict)  # evidence without its tail
    _per_device_kind: dict[DeviceKind, int] = field(default_factory=dict)
    _summaries: dict[DeviceKind, _Summary] = field(default_factory=dict)

    def add(self, f: Finding) -> Finding:
        """Account one flow's finding; the aggregated finding it went into."""
        key = (f.device, f.kind.value, f.peer, f.peer_port, f.proto)
        have = self._entries.get(key)
        if have is not None:
            if f.first_ts < have.first_ts:  # the earliest flow names and describes it
                have.peer_name = f.peer_name or have.peer_name
                have.flow_uid = f.flow_uid
                self._bases[key] = _base(f)
            _merge(have, f)
            return have
        dk = (f.device, f.kind.value)
        if self._per_device_kind.get(dk, 0) < self.max_findings:
            self._per_device_kind[dk] = self._per_device_kind.get(dk, 0) + 1
            entry = dataclasses.replace(f)
            self._entries[key] = entry
            self._bases[key] = _base(f)
            return entry
        return self._fold(dk, f)

    def _fold(self, dk: DeviceKind, f: Finding) -> Finding:
        summary = self._summaries.get(dk)
        if summary is None:
            first = dataclasses.replace(
                f, peer=None, peer_port=None, peer_name=None, flows=0, packets=0, bytes=0,
                peers=0, ports=0, sample_peers=[], answered=False,
            )  # fmt: skip
            first.first_ts, first.last_ts = f.first_ts, f.last_ts
            summary = self._summaries[dk] = _Summary(first)
        s = summary.finding
        _merge(s, f)
        if f.peer is not None:
            summary.peers.add(f.peer)
            samples = s.sample_peers
            if samples is not None and len(samples) < SAMPLE_PEERS and f.peer not in samples:
                samples.append(f.peer)
        summary.ports.add(f"{f.proto}/{f.peer_port}")
        summary.protos.add(f.proto)
        summary.vendors.add(f.vendor)
        return s

    def findings(self) -> list[Finding]:
        """Every finding, evidence brought up to date (own findings, then summaries)."""
        out = []
        for key, f in self._entries.items():
            tail = evidence_tail(f.answered, f.flows, f.packets, f.bytes)
            f.evidence = f"{self._bases[key]}; {tail}"
            out.append(f)
        for (device, kind), summary in self._summaries.items():
            out.append(self._finish(device, kind, summary))
        return out

    def _finish(self, device: str, kind: str, summary: _Summary) -> Finding:
        s = summary.finding
        s.peers, s.ports = summary.peers.count(), summary.ports.count()
        s.proto = next(iter(summary.protos)) if len(summary.protos) == 1 else "mixed"
        if len(summary.vendors) != 1:
            s.vendor = s.endpoint = None
        addresses = "outside addresses" if kind != FindingKind.EXTERNAL_RESOLVER else "resolvers"
        verb = "from" if kind == FindingKind.INBOUND else "of"
        s.evidence = (
            f"{device}: scan {verb} {s.peers:,} {addresses} on {s.ports:,} ports, beyond the "
            f"{self.max_findings} findings kept per device and kind; "
            f"{evidence_tail(s.answered, s.flows, s.packets, s.bytes)}"
        )
        return s

    def __len__(self) -> int:
        return len(self._entries) + len(self._summaries)

    def clear(self) -> None:
        """Forget everything (live keeps no finding history)."""
        self._entries.clear()
        self._bases.clear()
        self._per_device_kind.clear()
        self._summaries.clear()


def _merge(into: Finding, f: Finding) -> None:
    if f.first_ts < into.first_ts and into.is_summary:
        into.flow_uid = f.flow_uid
    into.flows += f.flows
    into.packets += f.packets
    into.bytes += f.bytes
    into.first_ts = min(into.first_ts, f.first_ts)
    into.last_ts = max(into.last_ts, f.last_ts)
    into.answered = into.answered or f.answered


def _base(f: Finding) -> str:
    """A one-flow finding's evidence without its answered/size tail."""
    tail = evidence_tail(f.answered, 1, f.packets, f.bytes)
    if f.evidence.endswith("; " + tail):
        return f.evidence[: -len(tail) - 2]
    return f.evidence
