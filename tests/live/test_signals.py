"""SIGHUP reloads the site policy (a broken one is refused and the old one kept); SIGTERM flushes
every flow into a complete alert log and exits 0.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest
import yaml

from tests.waiting import wait_until

from .netns import PCAPS, Sensor, need, segment, total

pytestmark = [pytest.mark.slow, pytest.mark.tools]
EXPECTED = yaml.safe_load((PCAPS / "expected.yaml").read_text())["captures"]
RELOAD_OK = "cctv_config_last_reload_successful"
RELOAD_TS = "cctv_config_last_reload_success_timestamp_seconds"


def _gauge(sensor: Sensor, name: str) -> float:
    return total(sensor.scrape().get(name, {}))


@pytest.mark.parametrize("workers", [1, 2])
def test_reload_and_flush(tmp_path: Path, workers: int) -> None:
    need("ip", "tcpreplay")
    policy = tmp_path / "site.yaml"
    shutil.copy(PCAPS / "site.yaml", policy)
    alerts = tmp_path / "alerts.jsonl"
    args = ("--config", str(policy), "--alerts", str(alerts), "--workers", str(workers))
    with segment() as seg:
        sensor = Sensor(seg, tmp_path, args)
        try:
            sensor.start()
            assert _gauge(sensor, RELOAD_OK) == 1
            loaded = _gauge(sensor, RELOAD_TS)

            policy.write_text("site: broken\nclosed_networks: [10.20.0.0/33]\nbogus_key: 1\n")
            sensor.signal(signal.SIGHUP)
            wait_until(lambda: _gauge(sensor, RELOAD_OK) == 0, 15, "reload gauge 0")
            assert "policy reload failed" in sensor.log()
            assert sensor.proc is not None and sensor.proc.poll() is None
            build = sensor.scrape()["cctv_build_info"]
            assert {dict(k)["site"] for k in build} == {"demo-hansaplatz"}, "old policy kept"

            shutil.copy(PCAPS / "site.yaml", policy)
            # The sensor stamps a reload with the wall clock when it handles the signal, so
            # after the test's own reading taken before sending it: no sleep needed. (The
            # reload reads the file on SIGHUP whatever its mtime.)
            signalled = time.time()
            sensor.signal(signal.SIGHUP)
            wait_until(lambda: _gauge(sensor, RELOAD_OK) == 1, 15, "reload gauge 1")
            assert loaded < signalled <= _gauge(sensor, RELOAD_TS)

            seg.replay(PCAPS / "egress.pcap")
            frames = EXPECTED["egress.pcap"]["packets"]
            wait_until(
                lambda: _gauge(sensor, "cctv_capture_packets_total") >= frames,
                30,
                "egress.pcap captured",
            )
            # No wait for flows to settle: the lone SYN and the unanswered datagram are still
            # open; SIGTERM must end them and write their findings before exiting.
            assert sensor.stop() == 0, sensor.log()
        finally:
            sensor.kill()
    _assert_alert_log(alerts)


def _assert_alert_log(alerts: Path) -> None:
    lines = alerts.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    want = EXPECTED["egress.pcap"]["findings"]
    got = sorted((r["kind"], r["device"], r["peer"], r["peer_port"]) for r in records)
    assert got == sorted((f["kind"], f["device"], f["peer"], f["peer_port"]) for f in want)
    for r in records:
        assert r["site"] == "demo-hansaplatz"
        assert r["count"] == 1 and r["suppressed"] == 0
        assert r["time"].endswith("Z")
    answered = {r["peer"]: r["answered"] for r in records}
    assert answered == {f["peer"]: f["answered"] for f in want}
