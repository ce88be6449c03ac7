"""``--workers``: the parent says ready only once every worker reads, starts a dead worker again
(at once, then after longer pauses while it keeps dying) and keeps what it had counted, so
the counters never go backwards (no processes here: the pool's bookkeeping alone)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from monitor.capture.live import CaptureOptions
from monitor.config import load_policy
from monitor.counters import Counters, Snapshot
from monitor.live.health import CaptureStatus
from monitor.live.notify import Notifier, Readiness
from monitor.live.runtime import LiveConfig
from monitor.live.workers import WorkerPool

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
T0 = 1772438400.0
IFACE = "fake0"


class Proc:
    def __init__(self) -> None:
        self.alive, self.exitcode, self.name = True, None, "cctv-capture-x"

    def is_alive(self) -> bool:
        return self.alive


class Control:
    def __init__(self) -> None:
        self.items: list[Any] = []
        self.closed = False

    def put(self, item: Any) -> None:
        self.items.append(item)

    def cancel_join_thread(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    config = LiveConfig(capture=CaptureOptions(IFACE), workers=2)
    pool = WorkerPool(config, load_policy(PCAPS / "site.yaml"))
    pool.readiness = pool.state.readiness = Readiness(IFACE, 2, Notifier({}))
    pool.launched = []

    def launch(index: int, fork: bool) -> None:
        pool.launched.append((index, fork))
        pool.procs[index], pool.controls[index] = Proc(), Control()
        pool.started_at[index] = clock[0]

    clock = [1000.0]
    pool.clock = clock
    pool.monotonic = lambda: clock[0]
    monkeypatch.setattr(pool, "_launch", launch)
    pool._start_workers()
    yield pool
    pool.alerts.close()
    pool.results.close()
    os.close(pool.signals.wake_fd)  # never installed: only its pipe to close
    os.close(pool.signals._write_fd)


def snap(packets: int, flows: int = 3) -> Snapshot:
    c = Counters()
    c.capture_packets[IFACE] += packets
    c.packets[("cam-1", "hikvision", "internal")] += packets
    c.flow_table_entries = flows
    return Snapshot("demo", T0, c)


def report(pool: Any, index: int, packets: int, is_open: bool = True) -> None:
    now = time.time()  # cctv_capture_up is decided with the wall clock
    status = CaptureStatus(is_open, now, now) if is_open else CaptureStatus()
    pool._handle(("snapshot", index, snap(packets), status, [], [], False, 500.0, 0))


def shown(pool: Any) -> tuple[int, int, int]:
    """(cctv_capture_up, captured packets, flow-table entries) as a scrape shows them."""
    current = pool.published.current()
    c = current.counters
    return c.capture_up[IFACE], c.capture_packets[IFACE], c.flow_table_entries


def test_up_only_once_every_worker_reads(pool: Any) -> None:
    assert pool.launched == [(0, False), (1, False)]  # no handles opened here: spawned
    pool._publish()
    assert shown(pool) == (0, 0, 0) and not pool.readiness.ready
    report(pool, 0, 10)
    assert shown(pool)[0] == 0 and pool.state.workers == (1, 2, 0)
    assert pool.readiness.text == f"starting: 1 of 2 capture workers reading {IFACE}"
    report(pool, 1, 5)
    assert shown(pool) == (1, 15, 6) and pool.readiness.ready
    assert pool.state.workers == (2, 2, 0)


def test_a_dead_worker_is_started_again_and_its_counts_stay(pool: Any) -> None:
    report(pool, 0, 10)
    report(pool, 1, 5)
    pool.procs[1].alive, pool.procs[1].exitcode = False, -9
    pool._check_alive(stopping=False)
    assert pool.restarts == 1 and pool.state.workers == (1, 2, 1)
    assert shown(pool) == (0, 15, 3), "down meanwhile; its packets stay, its flows are gone"
    pool._restart_due()
    assert pool.launched[-1] == (1, False), "at once the first time, spawned"
    report(pool, 1, 2)  # the new worker counts from zero
    assert shown(pool) == (1, 17, 6) and pool.state.workers == (2, 2, 1)
    assert pool.readiness.text == f"capturing on {IFACE} (2 workers); 1 worker restart so far"


def test_a_worker_that_keeps_dying_waits_longer(pool: Any) -> None:
    delays = []
    for _ in range(8):
        pool.procs[0].alive = False
        pool._check_alive(stopping=False)
        delays.append(pool.restart_at[0] - pool.clock[0])
        pool.clock[0] += delays[-1]
        pool._restart_due()
        pool.clock[0] += 5  # dies again 5 s after its start
    assert delays == [0, 1, 2, 4, 8, 16, 30, 30]
    pool.clock[0] += 120  # then runs for two minutes before it dies: at once again
    pool.procs[0].alive = False
    pool._check_alive(stopping=False)
    assert pool.restart_at[0] == pool.clock[0]


def test_no_restart_once_stopping(pool: Any) -> None:
    pool.procs[1].alive = False
    pool._check_alive(stopping=False)
    pool._stop_workers()  # SIGTERM while worker 1 waits to be started again
    assert 1 in pool.done and not pool.restart_at
    assert pool.controls[0].items == [("stop",)]
    pool.procs[0].alive = False  # dies without its final message while stopping
    pool._check_alive(stopping=True)
    assert pool.error == "worker 0 died while stopping (exit status None)"
