"""``replay --scheduler ADDRESS``: the partitions of a replay as Dask distributed tasks.

Each task runs :func:`monitor.replay_partition.run_partition` on a worker, which reads
the inputs from the same paths as this client (a share every host mounts at the same
place) and needs cctv-monitor installed in the same version. The results come back to
this process, which merges them. ``distributed`` is the optional extra
``cctv-monitor[distributed]``; it is imported only here.
"""

from __future__ import annotations

from typing import Any

from monitor.model import MonitorError
from monitor.replay_partition import PartitionResult, PartitionSpec, run_partition

CONNECT_SECONDS = 10


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


def run_on_cluster(address: str, specs: list[PartitionSpec]) -> list[PartitionResult]:
    """Run one task per spec on the cluster at ``address``; their results, in spec order."""
    with _client(address) as client:
        futures = client.map(run_partition, specs, pure=False, key=_keys(specs))
        results: list[PartitionResult] = client.gather(futures)
    return results


def _keys(specs: list[PartitionSpec]) -> list[str]:
    """Task names a dashboard shows: the partition and a token of the run."""
    token = f"{id(specs):x}"
    return [f"cctv-replay-{token}-{s.partition.index}of{s.partition.count}" for s in specs]
