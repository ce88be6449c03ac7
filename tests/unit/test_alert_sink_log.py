"""The alert log on a full disk (injected ENOSPC, so it runs unprivileged): every finding is in
the file or counted lost, the file never ends in a torn line, the waiting lines go out when
space returns, and the metrics and the stop summary say so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.exporter.collector import build_registry
from monitor.live.alerts import AlertLog
from monitor.live.runtime import SensorState
from tests.fulldisk import FullDisk
from tests.unit.test_live_alerts import T0, finding

SITE = "hamburg"


def in_file(path: Path) -> tuple[int, int]:
    """Lines and the findings they stand for (sum of count); every line must be whole JSON."""
    text = path.read_text()
    assert text.endswith("\n"), "no torn last line"
    rows = [json.loads(row) for row in text.splitlines()]
    return len(rows), sum(r["count"] for r in rows)


def scraped(state: SensorState) -> dict[str, float]:
    reg = build_registry(lambda: None, state.info, process_metrics=False)
    value = reg.get_sample_value
    return {
        "alerts": value("cctv_sink_write_errors_total", {"site": SITE, "sink": "alerts"}) or 0,
        "evidence": value("cctv_sink_write_errors_total", {"site": SITE, "sink": "evidence"}) or 0,
        "lost": value("cctv_alerts_lost_total", {"site": SITE}) or 0,
    }


def test_full_disk_then_space_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.live.sink.RETRY_SECONDS", 0.0)
    monkeypatch.setattr("monitor.live.sink.MAX_WAITING_LINES", 300)
    path = tmp_path / "alerts.jsonl"
    state = SensorState(SITE)
    log = state.alerts = AlertLog(str(path), lambda: SITE, throttle=0, rate=0, max_keys=5000)
    assert scraped(state) == {"alerts": 0, "evidence": 0, "lost": 0}, "series from the start"
    disk = FullDisk(monkeypatch, tmp_path, free=64 * 1024)
    raised = 944
    for i in range(raised):
        log.add(finding(T0 + i, peer=f"198.51.{i // 250}.{i % 250}"))
    lines, counted = in_file(path)
    waiting = log._sink.waiting if log._sink is not None else 0
    assert 0 < lines < raised and waiting == 300
    assert counted + waiting + log.lost_findings == raised, "every finding accounted for"
    metrics = scraped(state)
    assert metrics["alerts"] >= 1 and metrics["lost"] == raised - lines - 300
    assert metrics["evidence"] == 0

    disk.free = None  # space returns: the next flush writes what waited, oldest first
    log.flush_due(T0 + raised)
    after, counted = in_file(path)
    assert after == lines + 300 and counted + log.lost_findings == raised
    peers = [json.loads(row)["peer"] for row in path.read_text().splitlines()]
    assert peers == [f"198.51.{i // 250}.{i % 250}" for i in range(after)], "in order, no gap"
    log.add(finding(T0 + 2000, peer="203.0.113.1"))
    log.close()
    assert in_file(path)[0] == after + 1
    summary = log.summary()
    assert f"{after + 1:,} lines in {path}" in summary
    assert f"{raised - after:,} lost to write errors ({raised - after:,} findings" in summary


def test_a_crash_mid_line_does_not_glue_the_next_run_to_it(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    log = AlertLog(str(path), lambda: SITE, throttle=0, rate=0)
    log.add(finding(T0))
    log.close()
    with open(path, "a") as f:
        f.write('{"kind":"egress","dev')  # the process died in the middle of a line
    log = AlertLog(str(path), lambda: SITE, throttle=0, rate=0)
    log.add(finding(T0 + 1, peer="203.0.113.2"))
    log.close()
    assert in_file(path) == (2, 2)


def test_the_stop_summary_without_trouble(tmp_path: Path) -> None:
    log = AlertLog(str(tmp_path / "a.jsonl"), lambda: SITE, throttle=0, rate=0)
    log.add(finding(T0))
    log.close()
    assert log.summary().endswith("1 lines in " + str(tmp_path / "a.jsonl") + ", 0 lost to "
                                  "write errors (0 findings; 0 failed writes)")  # fmt: skip
    assert AlertLog(None, lambda: SITE).summary().endswith("over --alerts-rate)")
