"""Findings aggregate: one per (device, kind, peer, peer_port, proto), bounded per device.

A camera that scans the internet opens a million flows; the auditor needs one line that
says so, not a million. Flows with the same key merge into one finding that counts them
(``flows``, summed packets and bytes, first and last time, answered if any was). Per
device and kind at most ``max_findings`` keys, and per kind at most ``max_per_kind`` keys
over all devices, get findings of their own; flows with further keys fold into one
summary finding for their device and kind (``peer`` null,
``peers`` and ``ports`` counted, a few ``sample_peers``), whose evidence says "scan of N
outside addresses". Memory is bounded by kinds x max_per_kind plus one summary per
device and kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.classify.distinct import DistinctCount
from monitor.classify.evidence import evidence_tail
from monitor.flow.key import v4_int, v4_text
from monitor.model import Finding, FindingKind
from monitor.text import plural

Key = tuple[str, str, str | None, int | None, str]  # device, kind, peer, peer_port, proto
Rank = tuple[float, str, float, int, int]  # see _rank
PROTO_NUMBERS = {"tcp": 6, "udp": 17}
DeviceKind = tuple[str, str]
MAX_FINDINGS = 256  # per device and kind, before further peers fold into a summary
MAX_PER_KIND = 4096  # per kind over all devices, likewise
SAMPLE_PEERS = 5
TAKEN = ("peer_name", "query_name", "ja3", "ja3s", "ja4", "tls_certificate")


@dataclass(slots=True)
class KindSummary:
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
    max_per_kind: int = MAX_PER_KIND
    _entries: dict[Key, Finding] = field(default_factory=dict)
    _bases: dict[Key, str] = field(default_factory=dict)  # evidence without its tail
    _per_device_kind: dict[DeviceKind, int] = field(default_factory=dict)
    _per_kind: dict[str, int] = field(default_factory=dict)
    _summaries: dict[DeviceKind, KindSummary] = field(default_factory=dict)
    _taken_at: dict[tuple[Key, str], Rank] = field(default_factory=dict)  # see _take
    # own keys with an IPv4 peer, packed as peer << 24 | port << 8 | proto (add_rows)
    _packed: dict[DeviceKind, dict[int, Key]] = field(default_factory=dict)

    def add(self, f: Finding) -> Finding:
        """Account one flow's finding; the aggregated finding it went into."""
        key = (f.device, f.kind.value, f.peer, f.peer_port, f.proto)
        have = self._entries.get(key)
        if have is not None:
            self._take(key, have, f)
            rank = _rank(f)
            if rank < self._taken_at.get((key, "flow"), rank):  # the earliest flow describes it
                have.flow_uid, have.flow_ref = f.flow_uid, f.flow_ref
                self._bases[key] = _base(f)
                self._taken_at[(key, "flow")] = rank
            _merge(have, f)
            return have
        dk = (f.device, f.kind.value)
        if self._room(dk) > 0:
            self._per_device_kind[dk] = self._per_device_kind.get(dk, 0) + 1
            self._per_kind[dk[1]] = self._per_kind.get(dk[1], 0) + 1
            entry = dataclasses.replace(f)
            self._entries[key] = entry
            self._taken_at[(key, "flow")] = _rank(f)
            self._take(key, entry, f)
            self._bases[key] = _base(f)
            peer, number = v4_int(f.peer), PROTO_NUMBERS.get(f.proto)
            if peer is not None and number is not None and f.peer_port is not None:
                packed = (peer << 24) | (f.peer_port << 8) | number
                self._packed.setdefault(dk, {})[packed] = key
            return entry
        return self._fold(dk, f)

    def _take(
        self, key: Key, into: Finding, f: Finding, ranks: Mapping[str, Rank] | None = None
    ) -> None:
        """Names, TLS fingerprints and certificate: each from the earliest flow that showed
        it (an unanswered attempt has none), whatever order the flows end in. ``ranks``:
        those flows' ranks when ``f`` is another book's aggregate (see :meth:`absorb`)."""
        rank = _rank(f)
        for name in TAKEN:
            value = getattr(f, name)
            at = rank if ranks is None else ranks.get(name)
            if value is None or at is None:
                continue
            mine = self._taken_at.get((key, name))
            if mine is None or at < mine:
                setattr(into, name, value)
                self._taken_at[(key, name)] = at

    def _fold(self, dk: DeviceKind, f: Finding) -> Finding:
        summary = self._summaries.get(dk)
        if summary is None:
            first = dataclasses.replace(
                f, peer=None, peer_port=None, peer_name=None, flows=0, packets=0, bytes=0,
                peers=0, ports=0, sample_peers=[], answered=False, query_name=None,
            )  # fmt: skip
            first.first_ts, first.last_ts = f.first_ts, f.last_ts
            summary = self._summaries[dk] = KindSummary(first)
        s = summary.finding
        _merge(s, f)
        if f.peer is not None:
            number = v4_int(f.peer)  # IPv4 peers count as integers, as add_rows counts them
            summary.peers.add(f.peer if number is None else number)
            samples = s.sample_peers
            if samples is not None and len(samples) < SAMPLE_PEERS and f.peer not in samples:
                samples.append(f.peer)
        proto_number = PROTO_NUMBERS.get(f.proto)
        port = f.peer_port or 0
        summary.ports.add(
            f"{f.proto}/{port}" if proto_number is None else proto_number << 16 | port
        )
        summary.protos.add(f.proto)
        summary.vendors.add(f.vendor)
        return s

    def add_rows(
        self,
        *,
        device: str,
        kind: FindingKind,
        peers: npt.NDArray[np.uint64],
        ports: npt.NDArray[np.int64],
        first_ts: npt.NDArray[np.float64],
        last_ts: npt.NDArray[np.float64],
        packets: npt.NDArray[np.int64],
        sizes: npt.NDArray[np.int64],
        answered: npt.NDArray[np.bool_],
        describe: Callable[[int], Finding],
    ) -> None:
        """Account many TCP flows of one device and kind to IPv4 peers at once.

        The same rules as :meth:`add`, by key rather than by flow: a known key merges,
        new keys take the free places in order of their first flow, the rest fold into
        the summary. ``describe(i)`` words the finding of row ``i`` (only called for the
        earliest row of a key that gets a finding of its own).
        """
        dk = (device, kind.value)
        uniq, inverse, earliest = tcp_keys(peers, ports, first_ts)
        n = uniq.size
        flows = np.bincount(inverse, minlength=n)
        total_packets = _weighted_count(inverse, packets, n)
        total_bytes = _weighted_count(inverse, sizes, n)
        yes = np.bincount(inverse, weights=answered.astype(np.int64), minlength=n) > 0
        last = np.full(n, -np.inf)
        np.maximum.at(last, inverse, last_ts)
        first = first_ts[earliest]
        own = self._packed.setdefault(dk, {})
        known = np.isin(uniq, np.fromiter(own, np.uint64, len(own)))
        for j in np.flatnonzero(known).tolist():
            entry = self._entries[own[int(uniq[j])]]
            if first[j] < entry.first_ts:
                fresh = describe(int(earliest[j]))
                entry.flow_uid, entry.flow_ref = fresh.flow_uid, fresh.flow_ref
                self._bases[own[int(uniq[j])]] = _base(fresh)
            self._merge_counts(entry, int(flows[j]), total_packets[j], total_bytes[j],
                               float(first[j]), float(last[j]), bool(yes[j]))  # fmt: skip
        new = np.flatnonzero(~known)
        new = new[np.argsort(first[new], kind="stable")]
        room = self._room(dk)
        for j in new[:room].tolist():
            entry = self.add(describe(int(earliest[j])))
            entry.flows, entry.packets, entry.bytes = 0, 0, 0
            self._merge_counts(entry, int(flows[j]), total_packets[j], total_bytes[j],
                               float(first[j]), float(last[j]), bool(yes[j]))  # fmt: skip
        rest = new[room:]
        if rest.size:
            self._fold_rows(dk, rest, uniq, flows, total_packets, total_bytes, first, last, yes,
                            earliest, describe)  # fmt: skip

    def absorb(self, f: Finding, base: str, ranks: Mapping[str, Rank]) -> None:
        """Account another book's own finding ``f`` (already aggregated over its flows)
        whose evidence without its tail is ``base``: replay ``--jobs`` merges partitions so.
        ``ranks``: the other book's ranks of the flows ``f`` took its flow (``"flow"``),
        names and fingerprints from (its first packet may be a flow that showed none)."""
        key = (f.device, f.kind.value, f.peer, f.peer_port, f.proto)
        have = self._entries.get(key)
        if have is None:
            entry = self.add(f)
            if self._entries.get(key) is entry:  # else folded into the device's summary
                self._taken_at.update({(key, name): at for name, at in ranks.items()})
                self._bases[key] = base
            return
        if ranks["flow"] < self._taken_at[(key, "flow")]:  # f's flow describes it now
            have.flow_uid, have.flow_ref = f.flow_uid, f.flow_ref
            self._bases[key] = base
            self._taken_at[(key, "flow")] = ranks["flow"]
        _merge(have, f)
        self._take(key, have, f, ranks)

    def absorb_summary(self, device: str, kind: str, other: KindSummary) -> None:
        """Fold another book's summary finding of ``kind`` into this book's of ``device``."""
        mine = self._summaries.get((device, kind))
        if mine is None:
            mine = self._summaries[(device, kind)] = KindSummary(
                dataclasses.replace(
                    other.finding, device=device, flows=0, packets=0, bytes=0, sample_peers=[]
                )
            )
        _merge(mine.finding, other.finding)
        mine.peers.update(other.peers)
        mine.ports.update(other.ports)
        mine.protos |= other.protos
        mine.vendors |= other.vendors
        samples = mine.finding.sample_peers if mine.finding.sample_peers is not None else []
        for peer in other.finding.sample_peers or ():
            if len(samples) < SAMPLE_PEERS and peer not in samples:
                samples.append(peer)
        mine.finding.sample_peers = samples

    def fold_if_full(self, f: Finding) -> bool:
        """Fold ``f`` into its summary when it could not get a finding of its own anyway
        (no room, no finding for its key, a summary exists); False when it needs
        :meth:`add` (then ``f`` need not be worded: the summary words itself)."""
        dk = (f.device, f.kind.value)
        if dk not in self._summaries or self._room(dk) > 0:
            return False
        if (f.device, f.kind.value, f.peer, f.peer_port, f.proto) in self._entries:
            return False
        self._fold(dk, f)
        return True

    def room(self, device: str, kind: FindingKind) -> int:
        """How many more keys of this device and kind may get findings of their own."""
        return self._room((device, kind.value))

    def _room(self, dk: DeviceKind) -> int:
        """How many more keys of ``dk`` may get findings of their own."""
        per_device = self.max_findings - self._per_device_kind.get(dk, 0)
        per_kind = self.max_per_kind - self._per_kind.get(dk[1], 0)
        return max(min(per_device, per_kind), 0)

    @staticmethod
    def _merge_counts(
        into: Finding, flows: int, packets: float, size: float, first: float, last: float,
        answered: bool,
    ) -> None:  # fmt: skip
        into.flows += flows
        into.packets += int(packets)
        into.bytes += int(size)
        into.first_ts = min(into.first_ts, first) if into.flows > flows else first
        into.last_ts = max(into.last_ts, last) if into.flows > flows else last
        into.answered = into.answered or answered

    def _fold_rows(
        self,
        dk: DeviceKind,
        rest: npt.NDArray[np.int64],
        uniq: npt.NDArray[np.uint64],
        flows: npt.NDArray[np.int64],
        packets: npt.NDArray[np.float64],
        sizes: npt.NDArray[np.float64],
        first: npt.NDArray[np.float64],
        last: npt.NDArray[np.float64],
        answered: npt.NDArray[np.bool_],
        earliest: npt.NDArray[np.int64],
        describe: Callable[[int], Finding],
    ) -> None:
        """Fold keys ``rest`` (in time order) into the summary of ``dk``."""
        summary = self._summaries.get(dk)
        head = int(rest[0])
        if summary is None:  # made from the earliest flow, counted again in bulk below
            one = self._fold(dk, describe(int(earliest[head])))
            one.flows, one.packets, one.bytes = 0, 0, 0
            summary = self._summaries[dk]
        elif first[head] < summary.finding.first_ts:
            fresh = describe(int(earliest[head]))
            summary.finding.flow_uid, summary.finding.flow_ref = fresh.flow_uid, fresh.flow_ref
        s = summary.finding
        s.flows += int(flows[rest].sum())
        s.packets += int(packets[rest].sum())
        s.bytes += int(sizes[rest].sum())
        s.first_ts = min(s.first_ts, float(first[rest].min()))
        s.last_ts = max(s.last_ts, float(last[rest].max()))
        s.answered = s.answered or bool(answered[rest].any())
        summary.peers.add_many(np.unique(uniq[rest] >> np.uint64(24)).tolist())
        ports = np.unique((uniq[rest] >> np.uint64(8)) & np.uint64(0xFFFF))
        summary.ports.add_many((ports | np.uint64(6 << 16)).tolist())
        summary.protos.add("tcp")
        summary.vendors.add(None)
        samples = s.sample_peers if s.sample_peers is not None else []
        for p in (uniq[rest] >> np.uint64(24)).tolist():
            if len(samples) >= SAMPLE_PEERS:
                break
            text = v4_text(p)
            if text not in samples:
                samples.append(text)
        s.sample_peers = samples

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

    def _finish(self, device: str, kind: str, summary: KindSummary) -> Finding:
        s = summary.finding
        s.peers, s.ports = summary.peers.count(), summary.ports.count()
        s.proto = next(iter(summary.protos)) if len(summary.protos) == 1 else "mixed"
        if len(summary.vendors) != 1:
            s.vendor = s.endpoint = None
        resolver = kind == FindingKind.EXTERNAL_RESOLVER
        peers = (
            plural(s.peers, "resolver")
            if resolver
            else plural(s.peers, "outside address", "outside addresses")
        )
        verb = "from" if kind == FindingKind.INBOUND else "of"
        s.evidence = (
            f"{device}: scan {verb} {peers} on {plural(s.ports, 'port')}, beyond the "
            f"findings kept per device and kind ({self.max_findings}) or per kind "
            f"({self.max_per_kind:,}); "
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
        self._per_kind.clear()
        self._packed.clear()
        self._summaries.clear()


def tcp_keys(
    peers: npt.NDArray[np.uint64], ports: npt.NDArray[np.int64], first_ts: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The finding keys of TCP rows to IPv4 peers, packed as peer << 24 | port << 8 | 6
    (sorted, unique), each row's key, and per key its earliest row (by first packet)."""
    packed = (peers << np.uint64(24)) | (ports.astype(np.uint64) << np.uint64(8)) | np.uint64(6)
    uniq, inverse = np.unique(packed, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.lexsort((first_ts, inverse))  # by key, then time: first row of each key
    earliest = order[np.flatnonzero(np.r_[True, np.diff(inverse[order]) != 0])]
    return uniq, inverse, earliest


def _weighted_count(
    inverse: npt.NDArray[np.intp], weights: npt.NDArray[np.int64], n: int
) -> npt.NDArray[np.float64]:
    """Per key (``inverse`` gives each row's), the sum of the rows' ``weights``."""
    # numpy's stubs type every bincount as intp; with weights it is float64
    return np.bincount(inverse, weights=weights, minlength=n)  # type: ignore[return-value]


def _rank(f: Finding) -> Rank:
    """Which of two flows is the earlier: by first packet, then (the same moment, in two
    inputs) by what the flows are, never by the order they were added in."""
    return (f.first_ts, f.community_id or "", f.last_ts, f.packets, f.bytes)


def _merge(into: Finding, f: Finding) -> None:
    if f.first_ts < into.first_ts and into.is_summary:
        into.flow_uid, into.flow_ref = f.flow_uid, f.flow_ref
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
