"""``replay --scheduler ADDRESS``: the partitions as tasks of a real Dask cluster.

The cluster is a ``LocalCluster`` of worker *processes* (each imports cctv-monitor on its
own, as a worker on another host would); the command line is a separate process, a
client like any other. The report must equal the one-process report, flow ids aside.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_run import run_cli

distributed = pytest.importorskip("distributed", reason="the [distributed] extra is not installed")

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "pcaps" / "demo_day.pcap.gz")
FLOW_ID = re.compile(r"F\d{8,}")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def _comparable(text: str) -> str:
    report = json.loads(text)
    report.pop("provenance")
    return FLOW_ID.sub("F", json.dumps(report, sort_keys=True))


def test_a_cluster_replay_reports_what_one_process_reports(scheduler: str, tmp_path: Path) -> None:
    one = run_cli("replay", DEMO, "--json")
    on_cluster = run_cli(
        "replay", DEMO, "--json", "--scheduler", scheduler, "-v",
        "--evidence", str(tmp_path / "e.pcap"), "--eve", str(tmp_path / "eve.json"),
    )  # fmt: skip
    assert on_cluster.returncode == one.returncode == 1, on_cluster.stderr
    assert "replay in 2 partitions on tcp://" in on_cluster.stderr  # one per worker thread
    assert _comparable(on_cluster.stdout) == _comparable(one.stdout)
    prov = json.loads(on_cluster.stdout)["provenance"]
    assert len(prov["inputs"][0]["sha256"]) == 64
    assert prov["evidence"]["packets"] > 0
    events = [json.loads(line)["event_type"] for line in (tmp_path / "eve.json").open()]
    flows = json.loads(on_cluster.stdout)["totals"]["flows"]
    assert events.count("flow") == flows  # the workers' flow events came back to the client


def test_jobs_sets_the_number_of_tasks(scheduler: str) -> None:
    proc = run_cli("replay", DEMO, "--json", "--scheduler", scheduler, "--jobs", "3", "-v")
    assert proc.returncode == 1, proc.stderr
    assert "replay in 3 partitions" in proc.stderr
    assert _comparable(proc.stdout) == _comparable(run_cli("replay", DEMO, "--json").stdout)


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_cli("replay", DEMO, "--json", "--scheduler", f"tcp://127.0.0.1:{port}")
    assert proc.returncode == 2
    assert f"--scheduler tcp://127.0.0.1:{port}: cannot reach the scheduler" in proc.stderr
    assert proc.stdout == ""


def test_the_client_shows_what_partition_0_reads_as_the_cluster_replays(scheduler: str) -> None:
    from monitor.classify.catalog import load_catalog
    from monitor.config import default_policy
    from monitor.pipeline import PipelineSettings
    from monitor.replay_jobs import partition_specs, run_jobs

    calls: list[tuple[int, int, float]] = []
    specs = partition_specs([DEMO], default_policy(), PipelineSettings(), 2)
    run, _ = run_jobs(
        specs, load_catalog(), scheduler=scheduler, progress=lambda *c: calls.append(c)
    )
    assert calls, "no progress shown"
    packets, nbytes, seconds = calls[-1]  # the end: the whole input, however the events came
    assert (packets, nbytes) == (run.result.packets, run.result.bytes) == (2227, packets and nbytes)
    assert seconds > 0
    assert all(0 <= c[0] <= packets for c in calls)
    with distributed.Client(scheduler, set_as_default=False) as client:
        logged = [e for topic, events in client.get_events().items()
                  if topic.startswith("cctv-replay-progress-") for e in events]  # fmt: skip
    assert logged and all(0 < e[1][0] <= 2227 for e in logged)  # partition 0 logged them
