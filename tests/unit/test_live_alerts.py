"""The alert log: a JSON line per finding key, throttled on packet time, bounded per device and
kind (summaries), rate-capped on the wall clock (held_back lines); nothing dropped silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import build_parser
from monitor.commands.live_cmd import build_config
from monitor.live.alerts import DEFAULT_RATE, AlertLog, iso_utc
from monitor.live.runtime import LiveConfig
from monitor.model import ConfigError, Finding, FindingKind
from monitor.pipeline import PipelineSettings

T0 = 1772438400.0


def finding(
    ts: float,
    peer: str = "198.51.100.7",
    kind: FindingKind = FindingKind.EGRESS,
    device: str = "10.20.1.11",
    port: int = 443,
) -> Finding:
    return Finding(
        kind=kind,
        device=device,
        peer=peer,
        peer_port=port,
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
        "record": "finding",
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
    assert log.suppressed == {"throttle": 5, "fold": 0, "rate": 0}


def test_new_window_after_expiry_carries_held_count(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    log = AlertLog(str(path), lambda: "s", throttle=60)
    log.add(finding(T0))
    log.add(finding(T0 + 30))
    log.add(finding(T0 + 61))  # no flush_due in between: this line also counts the held one
    log.close()
    assert [r["count"] for r in lines(path)] == [1, 2]


def test_no_throttle_and_no_file(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    log = AlertLog(str(path), lambda: "s", throttle=0)
    for _ in range(3):
        log.add(finding(T0))
    log.close()
    assert log.lines == 3 and log.findings == 3 and len(lines(path)) == 3
    log = AlertLog(None, lambda: "s")  # no alert log: findings counted, nothing held back
    for i in range(5):
        log.add(finding(T0, peer=f"192.0.2.{i}"))
    log.close()
    assert log.findings == 5 and log.lines == 0 and sum(log.suppressed.values()) == 0


def test_iso_utc() -> None:
    assert iso_utc(0.0) == "1970-01-01T00:00:00.000Z"


class Clock:
    """The wall clock of the line rate and the summary/held_back cadences."""

    def __init__(self, now: float = 5_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def records(path: Path, record: str) -> list[dict[str, Any]]:
    return [r for r in lines(path) if r["record"] == record]


def test_a_line_per_key_port_and_proto_are_part_of_it(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    log = AlertLog(str(path), lambda: "s", throttle=300)
    log.add(finding(T0, port=443))
    log.add(finding(T0 + 1, port=8443))  # same device, kind, peer; another port: a new key
    log.add(finding(T0 + 2, port=443))  # a repeat: held back
    log.close()
    got = lines(path)
    assert [(r["peer_port"], r["count"]) for r in got] == [(443, 1), (8443, 1), (443, 1)]
    assert got[2]["first_ts"] == T0 + 2  # the held-back repeat, written at close


def test_keys_beyond_the_bound_fold_into_a_summary_written_once_a_minute(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    clock = Clock()
    log = AlertLog(str(path), lambda: "s", max_keys=3, rate=0, clock=clock)
    for i in range(3):
        log.add(finding(T0 + i, peer=f"198.51.100.{i}"))
    assert len(lines(path)) == 3 and log.suppressed["fold"] == 0
    log.add(finding(T0 + 3, peer="203.0.113.0", port=23))  # the 4th key: the summary starts
    (summary,) = records(path, "summary")
    assert summary["peer"] is None and summary["peer_port"] is None
    assert (summary["count"], summary["flows"], summary["peers"], summary["ports"]) == (1, 1, 1, 1)
    assert summary["sample_peers"] == ["203.0.113.0"] and summary["device"] == "10.20.1.11"
    for i in range(1, 100):  # 99 more: 50 addresses on two ports, held for a minute
        log.add(finding(T0 + 3 + i, peer=f"203.0.113.{i % 50}", port=23 if i % 2 else 2323))
    log.add(finding(T0 + 200, peer="198.51.100.0", kind=FindingKind.INBOUND))  # own kind, own keys
    clock.now += 59
    log.flush_due(T0 + 200)
    assert len(records(path, "summary")) == 1
    clock.now += 1
    log.flush_due(T0 + 200)
    first, second = records(path, "summary")
    assert second["count"] == 99 and second["suppressed"] == 98
    assert (second["flows"], second["peers"], second["ports"]) == (100, 50, 2)
    assert second["sample_peers"] == [f"203.0.113.{i}" for i in range(5)]
    assert (second["first_ts"], second["last_ts"]) == (T0 + 3, T0 + 103)
    assert second["packets"] == 300 and second["time"] == first["time"]
    assert "scan of 50 outside addresses on 2 ports, beyond the 3 alert keys" in second["evidence"]
    clock.now += 600
    log.flush_due(T0 + 900)  # nothing new folded: no line
    log.close()
    assert len(records(path, "summary")) == 2
    assert log.suppressed == {"throttle": 0, "fold": 100, "rate": 0}
    assert sum(r["count"] for r in lines(path)) == log.findings == 104


def test_a_summary_of_one_resolver_reads_in_the_singular_and_names_no_query(
    tmp_path: Path,
) -> None:
    """A summary's first line covers one peer and one port: no "1 resolvers on 1 ports";
    and it stands for many flows, so no single flow's DNS query is its query_name."""
    path = tmp_path / "alerts.jsonl"
    log = AlertLog(str(path), lambda: "s", max_keys=1, rate=0, clock=Clock())
    kind = FindingKind.EXTERNAL_RESOLVER
    log.add(finding(T0, peer="8.8.8.8", kind=kind, port=53))
    folded = finding(T0 + 1, peer="1.1.1.1", kind=kind, port=53)
    folded.query_name = "cam.example"
    log.add(folded)
    (summary,) = records(path, "summary")
    assert "scan of 1 resolver on 1 port, beyond the 1 alert key kept" in summary["evidence"]
    assert summary["query_name"] is None


def test_the_line_rate_holds_back_and_says_so_by_kind(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    clock = Clock()
    log = AlertLog(str(path), lambda: "s", rate=2, clock=clock)  # bursts of 20 lines
    for i in range(30):
        kind = FindingKind.EGRESS if i % 3 else FindingKind.INBOUND
        log.add(finding(T0 + i, peer=f"198.51.100.{i}", kind=kind))
    assert len(lines(path)) == 20 and log.suppressed["rate"] == 10
    log.flush_due(T0 + 30)  # the held_back line comes with the next flush
    (held,) = records(path, "held_back")
    assert held["count"] == held["suppressed"] == 10 and held["site"] == "s"
    assert held["kinds"] == {"egress": 7, "inbound": 3}
    assert (held["first_ts"], held["time"]) == (T0 + 20, iso_utc(T0 + 20))
    clock.now += 2.5  # five lines' worth of rate
    for i in range(30, 40):
        log.add(finding(T0 + i, peer=f"198.51.100.{i}"))
    assert len(records(path, "finding")) == 25 and log.suppressed["rate"] == 15
    log.flush_due(T0 + 40)
    assert len(records(path, "held_back")) == 1, "at most one held_back line a minute"
    clock.now += 0.5  # one line's worth
    log.add(finding(T0 + 50, peer="198.51.100.20"))  # its line was cut: written at once
    assert lines(path)[-1]["peer"] == "198.51.100.20" and lines(path)[-1]["count"] == 1
    log.add(finding(T0 + 51, peer="198.51.100.20"))  # now inside its window: held back
    assert log.suppressed == {"throttle": 1, "fold": 0, "rate": 15}
    clock.now += 60
    log.close()  # the held repeat gets its line; the 5 cut since the last held_back line theirs
    got = lines(path)
    assert [r["record"] for r in got].count("held_back") == 2
    assert got[-1]["count"] == 5 and got[-1]["kinds"] == {"egress": 5}
    assert got[-2]["first_ts"] == T0 + 51 and got[-2]["record"] == "finding"
    assert sum(r["count"] for r in got) == log.findings == 42
    written_at_once = 20 + 5 + 1
    assert written_at_once + sum(log.suppressed.values()) == log.findings


def test_a_flood_stays_within_the_bounds(tmp_path: Path) -> None:
    """A spoofed flood: 2,000 devices, 20,000 flows, every one a new key, on a clock that
    moves a second per 2,000 findings. Lines, keys and summaries stay bounded; the counts
    in the file add up to the findings."""
    path = tmp_path / "alerts.jsonl"
    clock = Clock()
    log = AlertLog(
        str(path),
        lambda: "s",
        max_keys=4,
        rate=20,
        clock=clock,
        max_total_keys=1000,
        max_summaries=50,
    )
    for i in range(20_000):
        device = f"10.20.{(i % 2000) // 256}.{i % 256}"
        log.add(finding(T0 + i / 2000, peer=f"198.51.{i % 7}.{i % 251}", device=device))
        if i % 2000 == 1999:
            clock.now += 1
            log.flush_due(T0 + i / 2000)
    log.close()
    got = lines(path)  # every line is JSON
    elapsed = 10
    assert len(records(path, "finding")) + len(records(path, "summary")) <= 200 + 20 * elapsed
    assert len(records(path, "held_back")) <= elapsed / 60 + 1
    assert len(log._windows) <= 1000 and len(log._summaries) <= 50 + 1
    assert {r["device"] for r in records(path, "summary")} >= {"other"}
    assert sum(r["count"] for r in got) == log.findings == 20_000
    assert len(records(path, "finding")) + sum(log.suppressed.values()) == 20_000
    assert log.suppressed["fold"] > 0 and log.suppressed["rate"] > 0
    assert "findings without a line of their own" in log.summary()


def test_alerts_rate_option() -> None:
    def config(*extra: str) -> LiveConfig:
        args = build_parser().parse_args(["live", "--interface", "eth1", *extra])
        return build_config(args, PipelineSettings())

    assert config().alerts_rate == DEFAULT_RATE == 20
    assert config("--alerts-rate", "0").alerts_rate == 0  # no limit
    assert config("--alerts-rate", "2.5").alerts_rate == 2.5
    with pytest.raises(ConfigError, match="--alerts-rate"):
        config("--alerts-rate", "-1")
