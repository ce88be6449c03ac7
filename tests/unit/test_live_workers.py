"""``--workers``: findings cross the queue as tuples, in bounded messages; the parent writes
them to the one alert log and publishes as fresh as its stalest worker (no processes here)."""

from __future__ import annotations

import json
import os
import queue
from dataclasses import replace
from pathlib import Path
from typing import Any

from monitor.capture.live import CaptureOptions
from monitor.config import load_policy
from monitor.counters import Counters, Snapshot
from monitor.live.health import CaptureStatus
from monitor.live.runtime import LiveConfig
from monitor.live.workers import FINDINGS_PER_MESSAGE, WorkerPool, _WorkerHooks
from monitor.model import Finding, FindingKind

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
T0 = 1772438400.0


class Queue:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def put(self, item: Any) -> None:
        self.items.append(item)

    def get_nowait(self) -> Any:
        if not self.items:
            raise queue.Empty
        return self.items.pop(0)


class Loop:
    stopped = False

    def stop(self) -> None:
        self.stopped = True


def finding(i: int) -> Finding:
    return Finding(
        kind=FindingKind.EGRESS,
        device="10.20.1.11",
        peer=f"198.51.100.{i % 250}",
        peer_port=1000 + i,
        proto="tcp",
        peer_name=None,
        vendor=None,
        endpoint=None,
        answered=False,
        first_ts=T0 + i,
        last_ts=T0 + i,
        packets=1,
        bytes=60,
        evidence="10.20.1.11 -> 198.51.100.7:23/tcp; no answer (attempt); 1 packets, 60 B",
        flow_uid=f"F{i}",
    )


def test_worker_sends_findings_ahead_in_bounded_messages() -> None:
    results = Queue()
    hooks = _WorkerHooks(1, None, results)
    for i in range(FINDINGS_PER_MESSAGE * 2 + 5):
        hooks.found(finding(i))
    assert [m[0] for m in results.items] == ["findings", "findings"]
    assert all(len(m[2]) == FINDINGS_PER_MESSAGE for m in results.items)
    assert len(hooks.findings) == 5  # go with the next snapshot
    row = results.items[0][2][7]
    assert isinstance(row, tuple) and Finding(*row) == replace(finding(7), flow_uid="w1-F7")


def test_worker_reads_a_stop_at_every_turn() -> None:
    control = Queue()
    hooks = _WorkerHooks(0, control, Queue())
    loop = Loop()
    hooks.poll(loop)  # type: ignore[arg-type]
    control.put(("stop",))
    hooks.poll(loop)  # type: ignore[arg-type]  # right after the last: no 0.2 s wait
    assert loop.stopped


def test_parent_writes_every_finding_and_publishes_the_stalest_time(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    config = LiveConfig(capture=CaptureOptions("fake0"), alerts_path=str(alerts), workers=2)
    pool = WorkerPool(config, load_policy(PCAPS / "site.yaml"))
    try:
        rows = [_row(finding(i)) for i in range(3)]
        pool._handle(("findings", 0, rows))
        status = CaptureStatus(True, T0, T0)
        snap = Snapshot("x", T0, Counters())
        pool._handle(("snapshot", 0, snap, status, [_row(finding(3))], [], False, 500.0, 2))
        pool._handle(("snapshot", 1, snap, status, [], [], False, 499.5, 0))
        assert pool.published.taken == 499.5
        pool._handle(("snapshot", 1, snap, status, [], [], False, 501.0, 5))
        assert pool.published.taken == 500.0
        info = pool.state.info(pool.published.taken)
        assert info.snapshot_taken == 500.0 and set(info.alerts_suppressed) == {
            "throttle", "fold", "rate",
        }  # fmt: skip
        # each worker reports its failed evidence writes so far: the parent sums the latest
        assert info.sink_write_errors == {"alerts": 0, "evidence": 7}
    finally:
        pool.alerts.close()
        pool.results.close()
        os.close(pool.signals.wake_fd)  # never installed: only its pipe to close
        os.close(pool.signals._write_fd)
    records = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert [r["peer_port"] for r in records] == [1000, 1001, 1002, 1003]


def _row(f: Finding) -> tuple[Any, ...]:
    results = Queue()
    hooks = _WorkerHooks(0, None, results)
    hooks.found(f)
    (row,) = hooks.findings
    return row
