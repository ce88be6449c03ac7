"""`live --eve` on a veth: an EVE alert for each line the alert log writes, valid under
Suricata's schema, and flow events of the flagged flows only (the default), each alert
pointing at its flow's event; with one process and with two capture workers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.requirements import require_shared

from .expected import sequential_capture
from .netns import PCAPS, Sensor, need, segment

pytestmark = [pytest.mark.slow, pytest.mark.tools]
SAMPLES = sorted(PCAPS.glob("*.pcap"))
POLICY = PCAPS / "site.yaml"


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("workers", [1, 2])
def test_live_eve_follows_the_alert_log(tmp_path: Path, workers: int) -> None:
    need("ip", "tcpreplay")
    schema = json.loads(require_shared("reference/eve/schema.json").read_text())
    check = jsonschema.validators.validator_for(schema)(schema)
    capture = tmp_path / "samples.pcap"
    frames = sequential_capture(SAMPLES, capture)
    alerts, eve = tmp_path / "alerts.jsonl", tmp_path / "eve.json"
    with segment() as seg:
        args = ("--config", str(POLICY), "--workers", str(workers), "--alerts", str(alerts),
                "--eve", str(eve))  # fmt: skip
        sensor = Sensor(seg, tmp_path, args)
        try:
            sensor.start()
            seg.replay(capture)
            sensor.wait_captured(frames)
            assert sensor.stop() == 0, sensor.log()
        finally:
            sensor.kill()
    written = [line for line in read(alerts) if line["record"] in ("finding", "summary")]
    events = read(eve)
    for event in events:
        errors = [e.message for e in check.iter_errors(event)]
        assert not errors, (errors, event)
    eve_alerts = [e for e in events if e["event_type"] == "alert"]
    flows = {e["flow_id"]: e for e in events if e["event_type"] == "flow"}
    assert written and len(eve_alerts) == len(written)
    for line, event in zip(written, eve_alerts, strict=True):  # the same order, the same words
        meta = event["alert"]["metadata"]
        assert (meta["kind"], meta["device"], meta["count"]) == (
            [line["kind"]],
            [line["device"]],
            [str(line["count"])],
        )
        assert event.get("community_id") == line["community_id"]
        assert event["alert"]["metadata"]["flow_uid"] == [line["flow_uid"]]
        flow = flows[event["flow_id"]]  # its flow ended by the stop: its event is there
        uid = next(v["value"] for v in flow["metadata"]["flowvars"] if v["key"] == "cctv.uid")
        assert uid == line["flow_uid"]
    assert all(e["flow"]["alerted"] for e in flows.values()), "--eve-flows flagged: the default"
    assert "EVE: " in sensor.log() and "Traceback" not in sensor.log()
