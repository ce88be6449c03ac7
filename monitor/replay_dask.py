"""``replay --scheduler ADDRESS``: the partitions of a replay as Dask distributed tasks.

Each task runs :func:`monitor.replay_partition.run_partition` on a worker, which reads
the inputs from the same paths as this client (a share every host mounts at the same
place) and needs cctv-monitor installed in the same version. The results come back to
this process, which merges them. ``distributed`` is the optional extra
``cctv-monitor[distributed]``; it is imported only here.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any

from monitor.model import MonitorError
from monitor.replay import PROGRESS_SECONDS, Progress
from monitor.replay_partition import PartitionResult, PartitionSpec, ProgressSink, run_partition

CONNECT_SECONDS = 10
POLL_SECONDS = 0.02


def _client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError as exc:
        raise MonitorError(
            "--scheduler needs Dask distributed: pip install 'cctv-monitor[distributed]'"
        ) from exc
    try:
        return Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise MonitorError(f"--scheduler {address}: cannot reach the scheduler: {exc}") from exc


def cluster_threads(address: str) -> int:
    """How many worker threads the cluster at ``address`` has (at least 1)."""
    with _client(address) as client:
        return max(1, sum(client.nthreads().values()))


def run_on_cluster(
    address: str, specs: list[PartitionSpec], progress: Progress | None = None
) -> list[PartitionResult]:
    """Run one task per spec on the cluster at ``address``; their results, in spec order.

    With ``progress``, partition 0 logs what it has read as worker events twice a second,
    and this client shows them as they come, and the whole input at the end.
    """
    with _client(address) as client:
        read = [0, 0]
        if progress is not None:
            topic = f"cctv-replay-progress-{uuid.uuid4().hex}"
            specs = [replace(s, progress_topic=topic) for s in specs]
            client.subscribe_topic(topic, lambda event: read.__setitem__(slice(None), event[1]))
        started = time.monotonic()
        futures = client.map(run_partition, specs, pure=False, key=_keys(specs))
        if progress is not None:
            _wait_showing(futures, read, progress, started)
        results: list[PartitionResult] = client.gather(futures)
    if progress is not None:
        inputs = results[0].inputs  # partition 0 accounts every input
        seconds = time.monotonic() - started
        progress(sum(s.packets for s in inputs), sum(s.bytes for s in inputs), seconds)
    return results


def _wait_showing(futures: list[Any], read: list[int], progress: Progress, started: float) -> None:
    """Until every task is done (or failed), show the latest progress event twice a second."""
    shown = started
    while not all(f.done() for f in futures):
        time.sleep(POLL_SECONDS)
        now = time.monotonic()
        if now - shown >= PROGRESS_SECONDS:
            shown = now
            progress(read[0], read[1], now - started)


def worker_progress(topic: str) -> ProgressSink:
    """On a Dask worker: count what partition 0 reads and log it as an event of ``topic``
    (the total so far) at most twice a second, the first batch at once."""
    from distributed import get_worker

    worker = get_worker()
    total = [0, 0]
    last = [0.0]

    def add(packets: int, nbytes: int) -> None:
        total[0] += packets
        total[1] += nbytes
        now = time.monotonic()
        if now - last[0] >= PROGRESS_SECONDS:
            last[0] = now
            worker.log_event(topic, (total[0], total[1]))

    return add


def _keys(specs: list[PartitionSpec]) -> list[str]:
    """Task names a dashboard shows: the partition and a token of the run."""
    token = f"{id(specs):x}"
    return [f"cctv-replay-{token}-{s.partition.index}of{s.partition.count}" for s in specs]
