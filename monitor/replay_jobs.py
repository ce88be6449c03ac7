"""``replay --jobs N`` and ``replay --scheduler ADDRESS``: the partitions, run and merged.

With ``--jobs N`` the N partitions (:mod:`monitor.partition`) run in N forked processes
of this machine; with ``--scheduler`` they run as tasks of a Dask distributed cluster
(the optional extra ``[distributed]``), whose workers read the inputs from the same
paths. Either way the results are merged here (:mod:`monitor.replay_merge`) into the
ReplayRun one process would have made, flow ids aside. The inputs' SHA-256 is taken by
this process meanwhile, on a thread of its own, so the partitions read without hashing.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any

from monitor import replay_partition
from monitor.audit import DEFAULT_GAP_THRESHOLD
from monitor.capture.hashing import sha256_file
from monitor.classify.catalog import VendorCatalog
from monitor.config import Policy
from monitor.flow import key as flow_key
from monitor.model import MonitorError
from monitor.partition import Partition
from monitor.pipeline import PipelineSettings
from monitor.replay import PROGRESS_SECONDS, Progress, ReplayRun
from monitor.replay_merge import merge_partitions
from monitor.replay_partition import PartitionResult, PartitionSpec, run_partition

log = logging.getLogger(__name__)


def partition_specs(
    paths: Sequence[str],
    policy: Policy,
    settings: PipelineSettings,
    count: int,
    *,
    gap_threshold: float | None = DEFAULT_GAP_THRESHOLD,
    eve: bool = False,
    eve_dir: str | None = None,
) -> list[PartitionSpec]:
    """One spec per partition, all with this process's flow-key seed.

    A flow table of ``--max-flows M`` becomes ``count`` tables of M/count (rounded up):
    the run keeps about the flows one process would.
    """
    per_part = -(-settings.flows.max_flows // count)
    part_settings = replace(settings, flows=replace(settings.flows, max_flows=per_part))
    return [
        PartitionSpec(
            paths=tuple(paths),
            policy=policy,
            settings=part_settings,
            partition=Partition(i, count),
            seed=flow_key.SEED,
            gap_threshold=gap_threshold,
            eve=eve,
            eve_dir=eve_dir,
            site=policy.site,
        )
        for i in range(count)
    ]


def run_jobs(
    specs: list[PartitionSpec],
    catalog: VendorCatalog,
    *,
    hash_inputs: bool = True,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> tuple[ReplayRun, list[PartitionResult]]:
    """Run ``specs`` (local processes, or tasks of the Dask ``scheduler``) and merge them.

    Returns the merged run and the partitions' results (their EVE lines, for ``--eve``).
    """
    paths = list(specs[0].paths)
    if scheduler is not None:
        from monitor.replay_dask import run_on_cluster  # dask only when asked for

        with _hashing(paths, hash_inputs) as digests:
            results = run_on_cluster(scheduler, specs, progress)
    else:
        results, digests = _run_local(specs, paths, hash_inputs, progress)
    run = merge_partitions(results, specs[0].policy, catalog)
    for summary, digest in zip(run.result.inputs, digests.result(), strict=True):
        if summary.sha256 is None and summary.format and summary.duplicate_of is None:
            summary.sha256 = digest
    by_path = {s.path: s.sha256 for s in run.result.inputs if s.duplicate_of is None}
    for summary in run.result.inputs:
        if summary.duplicate_of is not None:
            summary.sha256 = by_path.get(summary.duplicate_of, summary.sha256)
    return run, results


def _run_local(
    specs: list[PartitionSpec], paths: list[str], hash_inputs: bool, progress: Progress | None
) -> tuple[list[PartitionResult], _hashing]:
    """The partitions in forked processes (they inherit the loaded modules and the seed),
    and the inputs' digests, taken meanwhile.

    All workers are forked before the hashing thread starts (every task is submitted at
    once); ``progress`` hears what partition 0 has read. A worker that dies (the
    out-of-memory killer, say) fails the run with a clear error instead of leaving it
    waiting for a result that never comes.
    """
    cpus = usable_cpus()
    if len(specs) > cpus:
        log.warning(
            "--jobs %d on %d CPU%s: the partitions take turns on them, and each reads every "
            "input, so this replay is slower than with --jobs %d (docs/scale-out.md)",
            len(specs), cpus, "" if cpus == 1 else "s", cpus,
        )  # fmt: skip
    context = mp.get_context("fork")
    counts = replay_partition.PROGRESS = context.RawArray("q", 2)  # inherited by the fork
    pool = ProcessPoolExecutor(len(specs), mp_context=context)
    try:
        pending = [pool.submit(run_partition, spec) for spec in specs]
        with _hashing(paths, hash_inputs) as digests:
            _report_progress(pending, counts, progress)
            results = [future.result() for future in pending]
    except BrokenProcessPool as exc:
        raise MonitorError(
            "a --jobs worker process died before it finished (out of memory?)"
        ) from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        replay_partition.PROGRESS = None
    return results, digests


def _report_progress(
    pending: list[Future[PartitionResult]], counts: Any, progress: Progress | None
) -> None:
    """Until every partition is done, call ``progress`` twice a second with what partition
    0 has read (every partition reads all of it), and once more at the end."""
    started = time.monotonic()
    done = False
    while not done:
        done = not wait(pending, timeout=PROGRESS_SECONDS).not_done
        if progress is not None:
            progress(int(counts[0]), int(counts[1]), time.monotonic() - started)


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, as ``taskset`` or a cgroup cpuset sets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity call on this platform
        return os.cpu_count() or 1


class _hashing:
    """SHA-256 of each input on a thread of this process (None when not wanted or not
    readable), while the partitions run; ``result()`` waits for it."""

    def __init__(self, paths: list[str], wanted: bool) -> None:
        self.paths = paths
        self.wanted = wanted
        self.pool: ThreadPoolExecutor | None = None
        self.future: Future[list[str | None]] | None = None

    def __enter__(self) -> _hashing:
        if self.wanted:
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
            self.future = self.pool.submit(lambda: [_digest(p) for p in self.paths])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    def result(self) -> list[str | None]:
        """The digests, in input order."""
        if self.future is None:
            return [None] * len(self.paths)
        return self.future.result()


def _digest(path: str) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None
