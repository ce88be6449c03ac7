"""The alert log: one JSON line per finding, throttled per (device, kind, peer) on packet time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from monitor.live.alerts import AlertLog, iso_utc
from monitor.model import Finding, FindingKind

T0 = 1772438400.0


def finding(
    ts: float, peer: str = "198.51.100.7", kind: FindingKind = FindingKind.EGRESS
) -> Finding:
    return Finding(
        kind=kind,
        device="10.20.1.11",
        peer=peer,
        peer_port=443,
        proto="tcp",
        peer_name=None,
        vendor=None,
        endpoint=None,
        answered=True,
        first_ts=ts,
        last_ts=ts + 1,
        packets=3,
        bytes=180,
        evidence="10.20.1.11 -> 198.51.100.7:443/tcp",
        flow_uid="F1",
    )


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_line_has_contract_fields_site_time_count(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    log = AlertLog(str(path), lambda: "site-a", throttle=300)
    log.add(finding(T0 + 3.25))
    assert len(lines(path)) == 1, "written and flushed at once, before close"
    log.close()
    (line,) = lines(path)
    assert line == {
        **finding(T0 + 3.25).to_json(),
        "site": "site-a",
        "time": "2026-03-02T08:00:03.250Z",
        "count": 1,
        "suppressed": 0,
    }


def test_throttle_window_holds_back_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    log = AlertLog(str(path), lambda: "s", throttle=300)
    log.add(finding(T0))
    for i in range(1, 5):
        log.add(finding(T0 + i * 10))  # same key inside the window: held back
    log.add(finding(T0 + 20, peer="203.0.113.9"))  # another peer: its own key
    log.flush_due(T0 + 299)
    assert [r["count"] for r in lines(path)] == [1, 1]
    log.flush_due(T0 + 300)  # window over: the last held-back one stands for all four
    got = lines(path)
    assert len(got) == 3
    assert got[2]["first_ts"] == T0 + 40 and got[2]["count"] == 4 and got[2]["suppressed"] == 3
    log.add(finding(T0 + 350))  # inside the window the flush opened
    log.close()  # close writes what is still held back
    got = lines(path)
    assert [r["count"] for r in got] == [1, 1, 4, 1]
    assert sum(r["count"] for r in got) == log.findings == 7


def test_new_window_after_expiry_carries_held_count(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    log = AlertLog(str(path), lambda: "s", throttle=60)
    log.add(finding(T0))
    log.add(finding(T0 + 30))
    log.add(finding(T0 + 61))  # no flush_due in between: this line also counts the held one
    log.close()
    assert [r["count"] for r in lines(path)] == [1, 2]


def test_no_throttle_and_no_file() -> None:
    log = AlertLog(None, lambda: "s", throttle=0)
    for _ in range(3):
        log.add(finding(T0))
    log.close()
    assert log.lines == 3 and log.findings == 3


def test_iso_utc() -> None:
    assert iso_utc(0.0) == "1970-01-01T00:00:00.000Z"
