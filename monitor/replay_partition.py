"""One partition of a replay (``--jobs``, ``--scheduler``): its flows of every input.

:func:`run_partition` is what each job process or Dask task runs. It reads every input
in full (reading is cheap next to the flows) and hands its pipeline only its share of
each batch (:mod:`monitor.partition`), with the packet time of the whole batch, so that
flows settle, expire and snapshots fall at the very moments they do in one process. What
it returns is picklable and merged by :mod:`monitor.replay_merge`.
"""

from __future__ import annotations

import builtins
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from monitor.audit import DEFAULT_GAP_THRESHOLD, GapSummary
from monitor.capture.gaps import GapTracker
from monitor.capture.merge import split_at_ticks
from monitor.capture.offline import OfflineSource
from monitor.classify.catalog import load_catalog
from monitor.classify.devices import DeviceBook
from monitor.classify.finding_log import PartitionFindings
from monitor.classify.fingerprint import Fingerprinter
from monitor.classify.tls_client_log import TlsClientLog
from monitor.config import Policy
from monitor.counters import Counters, Snapshot
from monitor.flow import key as flow_key
from monitor.flow.light import LightFlows
from monitor.flow.state import FlowState
from monitor.model import EndReason, FlowRecord, InputSummary, MirrorSession
from monitor.partition import Partition
from monitor.pipeline import Pipeline, PipelineSettings

# Packets and bytes partition 0 has read so far, shared with the command that forked it
# (replay --jobs shows them as its progress); None in a Dask worker.
PROGRESS: Any = None
ProgressSink = Callable[[int, int], None]  # packets, bytes read since the last call
if TYPE_CHECKING:
    from monitor.report.eve_file import EveFile


@dataclass(frozen=True, slots=True)
class PartitionSpec:
    """Everything one partition needs (pickled to a job process or a Dask worker)."""

    paths: tuple[str, ...]
    policy: Policy
    settings: PipelineSettings
    partition: Partition
    seed: int  # the flow-key seed of the run: evidence is written by key afterwards
    batch_size: int = 4096
    gap_threshold: float | None = DEFAULT_GAP_THRESHOLD
    eve: bool = False  # word a flow event per flow (--eve): in eve_path, else eve_lines
    eve_dir: str | None = None  # a directory the command reads too: the events stay there
    site: str = "default"
    progress_topic: str | None = None  # Dask: partition 0 logs its progress as these events


@dataclass(slots=True)
class PartitionResult:
    """What a partition found; see :func:`monitor.replay_merge.merge_partitions`."""

    index: int
    packets: int
    bytes: int
    flow_count: int
    flow_evictions: int
    counters: Counters
    snapshots: list[Snapshot]
    roles: list[dict[str, tuple[str, str]]]  # per snapshot: device -> (vendor, role)
    devices: DeviceBook
    prints: Fingerprinter
    tls_clients: TlsClientLog
    findings: PartitionFindings
    flagged: list[tuple[Any, Any, Any]]
    records: list[FlowRecord]
    names: list[tuple[str, str, str]]
    mirror: list[MirrorSession]
    undecodable: dict[int, int]
    inputs: list[InputSummary] = field(default_factory=list)  # partition 0 only
    gaps: GapSummary | None = None
    linktypes: set[int] = field(default_factory=set)
    readable: bool = False
    eve_lines: builtins.bytes = b""  # the flow events (--eve), in the order the flows ended
    eve_path: str | None = None  # ... or the file in spec.eve_dir that holds them
    eve_order: list[tuple[int, float]] = field(default_factory=list)  # (batch, first_ts)


def run_partition(spec: PartitionSpec) -> PartitionResult:
    """Replay the inputs, accounting the flows of ``spec.partition`` only."""
    saved_seed = flow_key.SEED
    flow_key.SEED = spec.seed  # a Dask worker is a long-lived process: set back below
    try:
        return _run(spec, _progress_sink(spec))
    finally:
        flow_key.SEED = saved_seed


def _progress_sink(spec: PartitionSpec) -> ProgressSink | None:
    """Where partition 0 counts what it read (every partition reads it all): the counters
    the forking command shares, or events to the Dask client; None for the others."""
    if spec.partition.index != 0:
        return None
    if PROGRESS is not None:
        counts = PROGRESS

        def add(packets: int, nbytes: int) -> None:
            counts[0] += packets
            counts[1] += nbytes

        return add
    if spec.progress_topic is not None:
        from monitor.replay_dask import worker_progress  # on a Dask worker

        return worker_progress(spec.progress_topic)
    return None


def _run(spec: PartitionSpec, progress: ProgressSink | None) -> PartitionResult:
    part = spec.partition
    catalog = load_catalog()
    pipe = Pipeline(spec.policy, catalog, spec.settings)
    pipe.table.number_flows(part.index + 1, part.count)
    limits = spec.policy.limits
    log = PartitionFindings(limits.findings_per_device, limits.findings_per_kind)
    pipe.findings = log  # bounded as the run's book; the merge replays its places
    tls_clients = TlsClientLog(spec.policy.is_closed)
    pipe.inspector.tls.on_client = tls_clients.add
    eve = _eve_file(spec, log)
    pipe.flow_sink = eve
    snapshots_before = 0
    roles: list[dict[str, tuple[str, str]]] = []
    source = OfflineSource(list(spec.paths), batch_size=spec.batch_size)
    gaps = GapTracker(spec.gap_threshold)
    linktypes: set[int] = set()
    interval = pipe.settings.snapshot_seconds
    number = 0
    try:
        for whole in source.batches():
            linktypes.add(whole.linktype)
            gaps.add(whole.ts)
            if progress is not None:
                progress(len(whole), int(whole.wirelen.sum()))
            for batch in split_at_ticks(whole, interval):
                number += 1
                log.batch = tls_clients.batch = number
                mine, shared = part.split(batch, pipe.udp_ports)
                pipe.process(mine, now=float(batch.ts.max()), shared=shared)
                if len(pipe.snapshots) > snapshots_before:
                    snapshots_before = len(pipe.snapshots)
                    roles.append(_roles(pipe.devices))
        log.batch = tls_clients.batch = number + 1
        pipe.finish()
        if len(pipe.snapshots) > snapshots_before:
            roles.append(_roles(pipe.devices))
    finally:
        eve_lines, eve_order = _close_eve(eve, keep=spec.eve_dir is not None)
    first = part.index == 0
    devices = pipe.devices
    devices.catalog = None  # type: ignore[assignment]  # large; the merge has its own
    pipe.prints.catalog = None  # type: ignore[assignment]
    pipe.prints.drop_memos()  # up to 2 x 65,536 keys the merge has no use for
    tls_clients.is_closed = None  # type: ignore[assignment]  # the policy: the merge has it
    return PartitionResult(
        index=part.index,
        packets=pipe.packets,
        bytes=pipe.bytes,
        flow_count=pipe.flow_count,
        flow_evictions=pipe.table.evictions,
        counters=pipe.counters,
        snapshots=pipe.snapshots,
        roles=roles,
        devices=devices,
        prints=pipe.prints,
        tls_clients=tls_clients,
        findings=log,
        flagged=pipe.flagged,
        records=pipe.records,
        names=list(pipe.inspector.name_log),
        mirror=pipe.mirror.summary(),
        undecodable=pipe.undecodable,
        inputs=source.summaries if first else [],
        gaps=gaps.summary if first else None,
        linktypes=linktypes,
        readable=source.any_readable,
        eve_lines=eve_lines if isinstance(eve_lines, builtins.bytes) else b"",
        eve_path=eve_lines if isinstance(eve_lines, str) else None,
        eve_order=eve_order,
    )


def _roles(book: DeviceBook) -> dict[str, tuple[str, str]]:
    return {ip: (dev.vendor or "unknown", dev.role or "unknown") for ip, dev in book.counted()}


def _eve_file(spec: PartitionSpec, clock: PartitionFindings) -> _PartitionEve | None:
    """The partition's EVE flow-event file (a temporary file), or None."""
    if not spec.eve:
        return None
    from monitor.report.eve_file import EveFile  # only with --eve

    fd, path = tempfile.mkstemp(
        prefix=f"cctv-part{spec.partition.index}-", suffix=".eve", dir=spec.eve_dir
    )
    os.close(fd)
    return _PartitionEve(EveFile(path, spec.site), clock)


class _PartitionEve:
    """The pipeline's flow sink in a partition: EVE lines, and for each the batch its flow
    ended in (``clock.batch``) and its first packet time, so the command can write every
    partition's lines in the order one process ends them (by batch, then by age)."""

    def __init__(self, eve: EveFile, clock: PartitionFindings) -> None:
        self.eve = eve
        self.clock = clock
        self.order: list[tuple[int, float]] = []

    def flow(self, flow: FlowState, reason: EndReason) -> None:
        """A flow ended: its flow event."""
        self.eve.flow(flow, reason)
        self.order.append((self.clock.batch, flow.first_ts))

    def rows(self, light: LightFlows, slots: npt.NDArray[np.int64], reason: EndReason) -> None:
        """Light flows ended: their flow events."""
        self.eve.rows(light, slots, reason)
        batch = self.clock.batch
        self.order.extend((batch, ts) for ts in light["first_ts"][slots].tolist())


def _close_eve(
    eve: _PartitionEve | None, keep: bool
) -> tuple[builtins.bytes | str, list[tuple[int, float]]]:
    """The partition's EVE lines (or, with ``keep``, the path of the file that holds them:
    a flood's million lines need not cross a pipe) and their order keys."""
    if eve is None:
        return b"", []
    eve.eve.close()
    if keep:
        return eve.eve.path, eve.order
    try:
        with open(eve.eve.path, "rb") as fp:
            return fp.read(), eve.order
    finally:
        os.unlink(eve.eve.path)
