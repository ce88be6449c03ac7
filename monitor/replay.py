"""The auditor's job: capture files in, an AuditResult (and an evidence pcap) out."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.audit import DEFAULT_GAP_THRESHOLD
from monitor.capture.gaps import GapTracker
from monitor.capture.merge import split_at_ticks
from monitor.capture.offline import OfflineSource
from monitor.capture.writer import open_capture_writer
from monitor.classify.catalog import VendorCatalog
from monitor.config import Policy
from monitor.decode.frames import decode_batch
from monitor.flow.ended import FlowEndSink
from monitor.flow.key import flow_keys
from monitor.model import AuditResult
from monitor.pipeline import Pipeline, PipelineSettings

Progress = Callable[[int, int, float], None]  # packets, bytes, seconds elapsed
PROGRESS_SECONDS = 0.5  # how often a replay shows how far it has read


@dataclass(slots=True)
class ReplayRun:
    """The result of a replay plus what the evidence pass needs: the flagged flows (flow
    key, first and last packet time; light flows as arrays of them), the decoder's UDP
    tunnel ports and the link types seen. ``pipeline`` is the one that ran (None for a
    run merged from partitions)."""

    result: AuditResult
    flagged: list[tuple[Any, Any, Any]]
    udp_ports: np.ndarray
    linktypes: set[int]
    pipeline: Pipeline | None = None


def run_replay(
    paths: Sequence[str],
    policy: Policy,
    catalog: VendorCatalog,
    settings: PipelineSettings | None = None,
    progress: Progress | None = None,
    batch_size: int = 4096,
    gap_threshold: float | None = DEFAULT_GAP_THRESHOLD,
    flow_sink: FlowEndSink | None = None,
    hash_inputs: bool = True,
) -> ReplayRun:
    """Stream every input through the pipeline, in timestamp order across files.

    Inputs are hashed (SHA-256) while they are read (unless ``hash_inputs`` is False); an
    input with the same content as an earlier one is skipped. Stretches of packet time
    longer than ``gap_threshold`` seconds without a packet (None or 0: not looked for)
    are noted in ``result.gaps``.
    ``flow_sink`` (``--eve``) takes every flow as it ends.
    """
    source = OfflineSource(list(paths), batch_size=batch_size, hash_inputs=hash_inputs)
    pipe = Pipeline(policy, catalog, settings)
    pipe.flow_sink = flow_sink
    gaps = GapTracker(gap_threshold)
    linktypes: set[int] = set()
    started = time.monotonic()
    last_report = started
    interval = pipe.settings.snapshot_seconds
    for whole in source.batches():
        linktypes.add(whole.linktype)
        gaps.add(whole.ts)
        for batch in split_at_ticks(whole, interval):
            pipe.process(batch)
        if progress is not None and time.monotonic() - last_report > PROGRESS_SECONDS:
            last_report = time.monotonic()
            progress(pipe.packets, pipe.bytes, last_report - started)
    pipe.finish()
    if progress is not None:
        progress(pipe.packets, pipe.bytes, time.monotonic() - started)
    for index, summary in enumerate(source.summaries):
        summary.undecodable = pipe.undecodable.get(index, 0)
    result = AuditResult(
        site=policy.site,
        inputs=source.summaries,
        packets=pipe.packets,
        bytes=pipe.bytes,
        flow_count=pipe.flow_count,
        devices=sorted(pipe.devices.merged_devices(), key=lambda d: ip_sort_key(d.ip)),
        findings=sorted(
            pipe.findings.findings(), key=lambda f: (f.first_ts, f.kind.value, f.device)
        ),
        flows=sorted(pipe.records, key=lambda r: (r.first_ts, r.uid)),
        snapshots=list(pipe.snapshots),
        names=list(pipe.inspector.name_log),
        mirror_sessions=pipe.mirror.summary(),
        decode_errors=dict(pipe.counters.decode_errors),
        devices_overflow=pipe.devices.overflow.count(),
        silent_hosts=sorted(pipe.devices.silent.values(), key=lambda d: ip_sort_key(d.ip)),
        silent_overflow=pipe.devices.silent_overflow.count(),
        flow_evictions=pipe.table.evictions,
        readable=source.any_readable,
        gaps=gaps.summary,
    )
    return ReplayRun(result, pipe.flagged, pipe.udp_ports, linktypes, pipe)


def ip_sort_key(ip: str) -> tuple[int, str]:
    return (1 if ":" in ip else 0, ".".join(p.zfill(3) for p in ip.split(".")))


def write_evidence(run: ReplayRun, paths: Sequence[str], out_path: str) -> int:
    """Second pass: write exactly the packets of flagged flows; return how many.

    Inputs the first pass skipped as duplicates are skipped here too.
    """
    inputs = run.result.inputs
    if len(inputs) == len(paths):
        paths = [p for p, s in zip(paths, inputs, strict=True) if s.duplicate_of is None]
    intervals: dict[int, list[tuple[float, float]]] = {}
    for key, first, last in run.flagged:
        if isinstance(key, np.ndarray):  # light flows: arrays of them
            for k, a, b in zip(key.tolist(), first.tolist(), last.tolist(), strict=True):
                intervals.setdefault(k, []).append((a, b))
        else:
            intervals.setdefault(key, []).append((first, last))
    wanted = np.fromiter(intervals.keys(), dtype=np.uint64, count=len(intervals))
    written = 0
    with open_capture_writer(out_path, run.linktypes or {1}) as writer:
        if not intervals:
            return 0
        for batch in OfflineSource(list(paths), skip_duplicates=False).batches():
            d = decode_batch(batch, run.udp_ports)
            keys, _ = flow_keys(d)
            candidates = np.flatnonzero(d.ip & np.isin(keys, wanted))
            if candidates.size == 0:
                continue
            mask = np.zeros(len(batch), dtype=np.bool_)
            for i in candidates.tolist():
                ts = float(batch.ts[i])
                if any(a <= ts <= b for a, b in intervals[int(keys[i])]):
                    mask[i] = True
            writer.write_batch(batch, mask)
            written += int(mask.sum())
    return written
