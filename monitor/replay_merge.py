"""One replay result from the partitions of ``--jobs`` or ``--scheduler``.

Each partition accounted its own flows; what is per flow adds up (packets, bytes, flows,
counters, device totals, mirror sessions). What depends on order is replayed in the
order of the capture: findings batch by batch (:mod:`monitor.classify.finding_log`), TLS
client fingerprints by time (:mod:`monitor.classify.tls_client_log`). Device facts are
the union of what each partition learned, summarised once over the merged book, as a
single process summarises at its end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from monitor.classify.catalog import VendorCatalog
from monitor.classify.device_book_merge import finding_device, merge_books, merge_prints
from monitor.classify.finding_log import merge_findings
from monitor.classify.findings import FindingBook
from monitor.classify.tls_client_log import merge_tls_clients
from monitor.config import Policy
from monitor.counters import Snapshot
from monitor.decode.tunnels import GENEVE_PORTS, VXLAN_PORTS, udp_port_table
from monitor.live.merge import merge_snapshots, with_devices
from monitor.model import AuditResult, MirrorSession
from monitor.replay import ReplayRun, ip_sort_key
from monitor.replay_partition import PartitionResult


def merge_partitions(
    parts: Sequence[PartitionResult], policy: Policy, catalog: VendorCatalog
) -> ReplayRun:
    """The ReplayRun a single process would have made of the same inputs."""
    parts = sorted(parts, key=lambda p: p.index)
    first = parts[0]
    prints = merge_prints([p.prints for p in parts], catalog)
    book = merge_books([p.devices for p in parts], policy, catalog)
    merge_tls_clients(book.tls_clients, [p.tls_clients for p in parts])  # capture order
    book.refresh(prints)
    limits = policy.limits
    findings = merge_findings(
        FindingBook(limits.findings_per_device, limits.findings_per_kind),
        [p.findings for p in parts],
        finding_device(book),
    )
    inputs = first.inputs
    assert first.gaps is not None  # partition 0 looks for gaps
    snapshots: list[object] = [*_snapshots(parts, policy.site)]
    for index, summary in enumerate(inputs):
        summary.undecodable = sum(p.undecodable.get(index, 0) for p in parts)
    decode_errors: dict[str, int] = {}
    for p in parts:
        for layer, n in p.counters.decode_errors.items():
            decode_errors[layer] = decode_errors.get(layer, 0) + n
    result = AuditResult(
        site=policy.site,
        inputs=inputs,
        packets=sum(p.packets for p in parts),
        bytes=sum(p.bytes for p in parts),
        flow_count=sum(p.flow_count for p in parts),
        devices=sorted(book.merged_devices(), key=lambda d: ip_sort_key(d.ip)),
        findings=sorted(findings.findings(), key=lambda f: (f.first_ts, f.kind.value, f.device)),
        flows=sorted((r for p in parts for r in p.records), key=lambda r: (r.first_ts, r.uid)),
        snapshots=snapshots,
        names=[n for p in parts for n in p.names],
        mirror_sessions=_mirror([p.mirror for p in parts]),
        decode_errors=decode_errors,
        devices_overflow=book.overflow.count(),
        silent_hosts=sorted(book.silent.values(), key=lambda d: ip_sort_key(d.ip)),
        silent_overflow=book.silent_overflow.count(),
        flow_evictions=sum(p.flow_evictions for p in parts),
        readable=first.readable,
        gaps=first.gaps,
    )
    ports = udp_port_table(VXLAN_PORTS + policy.mirror.vxlan, GENEVE_PORTS + policy.mirror.geneve)
    flagged = [f for p in parts for f in p.flagged]
    linktypes = set().union(*(p.linktypes for p in parts))
    return ReplayRun(result, flagged, np.asarray(ports), linktypes)


def _snapshots(parts: Sequence[PartitionResult], site: str) -> list[Snapshot]:
    """The partitions' snapshots, tick by tick (every partition ticks at the same packet
    times), summed; ``cctv_devices`` counts each host once."""
    out: list[Snapshot] = []
    for i in range(min(len(p.snapshots) for p in parts)):
        merged = merge_snapshots([p.snapshots[i] for p in parts], site)
        roles: dict[str, tuple[str, str]] = {}
        for p in parts:
            if i < len(p.roles):
                roles.update(p.roles[i])
        out.append(with_devices(merged, roles))
    return out


def _mirror(lists: Sequence[list[MirrorSession]]) -> list[MirrorSession]:
    """Mirror sessions of every partition, the same session's counts added up."""
    sessions: dict[tuple[str, str, str, int | None], MirrorSession] = {}
    for sessions_of_part in lists:
        for s in sessions_of_part:
            key = (s.kind, s.outer_src, s.outer_dst, s.session_id)
            have = sessions.get(key)
            if have is None:
                sessions[key] = replace(s)
                continue
            have.packets += s.packets
            have.bytes += s.bytes
            have.first_ts = _pick(min, have.first_ts, s.first_ts)
            have.last_ts = _pick(max, have.last_ts, s.last_ts)
    return sorted(sessions.values(), key=lambda s: (-s.packets, s.kind, s.outer_src))


def _pick(how: Callable[[float, float], float], a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else how(a, b)
