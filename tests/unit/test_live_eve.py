"""`live --eve`: an EVE alert for exactly the lines the alert log writes (throttle, summaries
and line rate decide for both), with or without `--alerts`; flow events of all, flagged or
no flows; a worker's flow events relayed in batches; a full disk waits, as for alerts."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from monitor.classify.catalog import load_catalog
from monitor.cli import build_parser
from monitor.commands.live_cmd import build_config
from monitor.config import load_policy
from monitor.live.alerts import AlertLog
from monitor.live.eve_log import EveLog, EveRelay, FlowEvents
from monitor.live.runtime import SensorState
from monitor.pipeline import Pipeline, PipelineSettings
from monitor.replay import run_replay
from tests.fulldisk import FullDisk
from tests.unit.test_eve import T0, finding

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def storm(log: AlertLog, clock: Clock) -> None:
    """Repeats inside the throttle, more peers than keys (a summary), a burst over the rate."""
    for i in range(30):
        log.add(finding(f"198.51.100.{i % 12}", 443, T0 + i))
        clock.now += 0.01
    log.flush_due(T0 + 400)  # the held-back repeats come out
    clock.now += 120
    log.flush_due(T0 + 401)
    log.close()


def run(tmp_path: Path, alerts: bool) -> tuple[AlertLog, list[dict], list[dict]]:
    clock = Clock()
    eve = EveLog(str(tmp_path / "eve.json"), lambda: "site-a", "none")
    alert_path = tmp_path / "alerts.jsonl"
    log = AlertLog(str(alert_path) if alerts else None, lambda: "site-a", 300, max_keys=8,
                   rate=0.3, clock=clock, eve=eve)  # fmt: skip
    storm(log, clock)
    return log, lines(alert_path), lines(tmp_path / "eve.json")


def test_an_eve_alert_for_every_line_the_alert_log_writes(tmp_path: Path) -> None:
    log, written, events = run(tmp_path, alerts=True)
    kept = [w for w in written if w["record"] in ("finding", "summary")]
    assert any(w["record"] == "held_back" for w in written), "the rate cut some: no EVE form"
    assert any(w["record"] == "summary" for w in written) and any(w["count"] > 1 for w in kept)
    assert len(events) == len(kept) == log.lines
    for line, event in zip(kept, events, strict=True):
        meta = event["alert"]["metadata"]
        assert meta["record"] == [line["record"]]
        assert meta["count"] == [str(line["count"])]
        assert meta["suppressed"] == [str(line["suppressed"])]
        assert meta["flows"] == [str(line["flows"])]
        assert event.get("community_id") == line["community_id"]
        assert event["alert"]["signature_id"] == 9000001 and event["host"] == "site-a"
        if line["record"] == "finding":
            assert event["dest_ip"] == line["peer"]
    assert sum(w["count"] for w in written) == log.findings == 30


def test_eve_alone_decides_the_same(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, _, both = run(tmp_path / "a", alerts=True)
    log, written, alone = run(tmp_path / "b", alerts=False)
    assert written == [] and alone == both and log.lines == len(alone)


def sample_flows(mode: str) -> tuple[list[dict[str, Any]], int]:
    got: list[str] = []
    sink = FlowEvents(mode, lambda: "site-a", got.extend)
    policy, settings = load_policy(str(PCAPS / "site.yaml")), PipelineSettings(keep_records=False)
    done = run_replay([str(PCAPS / "demo_day.pcap.gz")], policy, load_catalog(), settings,
                      flow_sink=sink)  # fmt: skip
    return [json.loads(line) for line in got], done.result.flow_count


def test_flow_events_of_all_flagged_or_no_flows() -> None:
    every, flows = sample_flows("all")
    flagged, _ = sample_flows("flagged")
    none, _ = sample_flows("none")
    assert len(every) == flows and none == []
    assert flagged == [e for e in every if e["flow"]["alerted"]]
    assert 0 < len(flagged) < len(every)


def test_a_workers_flow_events_go_to_the_parent_in_batches() -> None:
    sent: list[list[str]] = []
    relay = EveRelay("all", lambda: "site-a", sent.append, "w1-", batch=10)
    pipe = Pipeline(load_policy(str(PCAPS / "site.yaml")), load_catalog(),
                    PipelineSettings(keep_records=False))  # fmt: skip
    pipe.flow_sink = relay
    for batch in run_replay_batches(PCAPS / "demo_day.pcap.gz"):
        pipe.process(batch)
    pipe.finish()
    relay.flush()
    assert all(len(chunk) <= 10 for chunk in sent) and len(sent) > 2
    events = [json.loads(line) for chunk in sent for line in chunk]
    assert len(events) == pipe.flow_count
    uids = [next(v["value"] for v in e["metadata"]["flowvars"] if v["key"] == "cctv.uid")
            for e in events]  # fmt: skip
    assert all(u.startswith("w1-F") for u in uids), "as the worker's findings name them"
    relay.flush()
    assert sum(map(len, sent)) == len(events), "nothing sent twice"


def run_replay_batches(path: Path) -> Any:
    from monitor.capture.offline import OfflineSource

    return OfflineSource([str(path)]).batches()


def test_a_full_disk_holds_eve_lines_back_and_writes_them_later(
    tmp_path: Path, monkeypatch: Any
) -> None:
    path = tmp_path / "eve.json"
    clock = Clock()
    eve = EveLog(str(path), lambda: "s", "flagged")
    log = AlertLog(None, lambda: "s", 300, clock=clock, eve=eve)
    disk = FullDisk(monkeypatch, tmp_path, free=0)
    log.add(finding("198.51.100.1", 443, T0))
    assert lines(path) == [] and eve.write_errors == 1
    disk.free = None
    eve._sink.clock = lambda: 1e9  # the retry timer has run out
    log.flush_due(T0 + 1)
    (event,) = lines(path)
    assert event["dest_ip"] == "198.51.100.1" and event["alert"]["metadata"]["count"] == ["1"]
    log.close()


def test_live_options_reach_the_sensor(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["live", "-i", "eth1", "--eve", str(tmp_path / "eve.json"), "--eve-flows", "all"]
    )
    config = build_config(args, PipelineSettings())
    assert (config.eve_path, config.eve_flows) == (str(tmp_path / "eve.json"), "all")
    state = SensorState("site-a")
    log = state.open_alerts(config, load_policy(str(PCAPS / "site.yaml")))
    assert log.eve is not None and log.eve.flow_events is not None
    assert log.eve.flow_events.mode == "all"
    assert state.info().sink_write_errors["eve"] == 0
    log.close()
    default = build_parser().parse_args(["live", "-i", "eth1"])
    assert default.eve is None and default.eve_flows == "flagged"


def test_flow_events_are_bounded_by_their_rate(caplog: Any) -> None:
    clock = Clock()
    got: list[str] = []
    events = FlowEvents("all", lambda: "s", got.extend, rate=2.0, clock=clock)
    settings = PipelineSettings(keep_records=False)
    pipe = Pipeline(load_policy(str(PCAPS / "site.yaml")), load_catalog(), settings)
    pipe.flow_sink = events
    with caplog.at_level(logging.WARNING, "monitor.live.eve_log"):
        for batch in run_replay_batches(PCAPS / "demo_day.pcap.gz"):
            pipe.process(batch)
        pipe.finish()
    assert len(got) == 20, "a burst of 10 s worth, no time passed"
    assert events.cut == pipe.flow_count - 20
    assert "flow events over --eve-flows-rate (2 a second) not written" in caplog.text
    clock.now += 3  # 6 more may go
    assert events.budget.take(10) == 6 and events.budget.take(1) == 0
