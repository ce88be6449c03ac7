"""A spoofed SYN flood (bench/make_flood.py) into a live sensor: it stays responsive and bounded.

Two floods of FLOOD SYNs from 65,536 spoofed sources 10.20.x.y to 512 outside addresses,
every SYN a new flow and a finding, go in at tcpreplay's top speed. While the sensor
works through them, a scraper inside the sensor's namespace fetches ``/metrics`` every
0.2 s: every answer is small (the policy caps devices at 100) and shows counters taken
at most 2 s earlier (``cctv_snapshot_timestamp_seconds``). Once the first flood's
findings are all raised, the second goes in, and SIGTERM arrives while the sensor is
still busy with it: the sensor exits within 5 s, and the alert log it leaves is whole
(every line one JSON object), within the bound ``--alerts-rate`` sets, and accounts for
every finding (the counts in the file add up to the findings of the stop log line).
Every time limit is scaled by ``CCTV_TEST_TIMEOUT_SCALE`` (``tests/waiting.py``).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.make_flood import flood, write_pcap
from tests.waiting import scaled

from .netns import PCAPS, Segment, Sensor, need, segment

pytestmark = [pytest.mark.slow, pytest.mark.tools]
FLOOD = 100_000
DEVICES = 100  # limits.devices of the test's policy
ALERTS_RATE = 20  # --alerts-rate: bursts of 10 s worth
METRICS_BYTES = 256 << 10  # /metrics with 100 devices besides the inventory
FRESH_SECONDS = 2.0
STOP_SECONDS = 5.0

# Runs inside the sensor's namespace: one JSON line per scrape until STOPFILE exists.
SCRAPER = r"""
import json, os, re, sys, time, urllib.request
url, stopfile = sys.argv[1], sys.argv[2]
SAMPLE = re.compile(r'^(cctv_[a-z_]+)(?:\{([^}]*)\})? (\S+)$', re.M)
while not os.path.exists(stopfile):
    t0 = time.time()
    try:
        body = urllib.request.urlopen(url, timeout=10).read().decode()
    except OSError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        time.sleep(0.2)
        continue
    t1 = time.time()
    out = {"t0": t0, "t1": t1, "bytes": len(body), "suppressed": {}, "dropped": 0,
           "cctv_capture_packets_total": 0, "cctv_findings_total": 0}
    for name, labels, value in SAMPLE.findall(body):
        v = float(value)
        if name == "cctv_snapshot_timestamp_seconds":
            out["taken"] = v
        elif name in ("cctv_capture_packets_total", "cctv_findings_total"):
            out[name] += v
        elif name == "cctv_capture_dropped_packets_total" and 'where="kernel"' in labels:
            out["dropped"] += v
        elif name == "cctv_alerts_suppressed_total":
            out["suppressed"][re.search(r'reason="(\w+)"', labels).group(1)] = v
    print(json.dumps(out), flush=True)
    time.sleep(0.2)
"""


def _flood_pcap(path: Path, seed: int) -> Path:
    sources = (0x0A140000 + np.arange(65536)).astype(np.uint64)
    frames = flood(FLOOD, sources, np.random.default_rng(seed))
    write_pcap(path, frames, 1_772_438_400.0, 10.0)
    return path


class Scraper:
    """The scraping process inside the sensor's namespace, and what it saw."""

    def __init__(self, seg: Segment, sensor: Sensor, workdir: Path) -> None:
        self.stopfile = workdir / "scraper.stop"
        cmd = seg.sensor_cmd(sys.executable, "-c", SCRAPER, sensor.url, str(self.stopfile))
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.seen: list[dict[str, Any]] = []

    def scrapes(self, seconds: float, what: str) -> Iterator[dict[str, Any]]:
        """Each scrape as it comes, for at most ``scaled(seconds)``."""
        assert self.proc.stdout is not None
        end = time.monotonic() + scaled(seconds)
        while time.monotonic() < end:
            line = self.proc.stdout.readline()
            if not line:
                pytest.fail("the scraper ended")
            scrape = json.loads(line)
            if "error" not in scrape:
                self.seen.append(scrape)
                yield scrape
        pytest.fail(f"timed out after {scaled(seconds):g} s waiting for {what}")

    def stop(self) -> None:
        self.stopfile.touch()
        try:
            self.proc.wait(timeout=scaled(15))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _replay(seg: Segment, pcap: Path) -> subprocess.Popen[bytes]:
    cmd = ["tcpreplay", f"--intf1={seg.src_if}", "--topspeed", str(pcap)]
    return subprocess.Popen(seg.exec(seg.src_ns, *cmd), stdout=subprocess.PIPE)


@pytest.mark.parametrize("workers", [1, 2])
def test_flood_keeps_the_sensor_responsive_and_bounded(tmp_path: Path, workers: int) -> None:
    need("ip", "tcpreplay")
    policy = tmp_path / "site.yaml"
    shutil.copy(PCAPS / "site.yaml", policy)
    with policy.open("a") as fh:
        fh.write(f"limits: {{devices: {DEVICES}}}\n")
    floods = [_flood_pcap(tmp_path / f"flood-{seed}.pcap", seed) for seed in (1, 2)]
    alerts = tmp_path / "alerts.jsonl"
    args = ("--config", str(policy), "--alerts", str(alerts), "--workers", str(workers))
    args += ("--alerts-rate", str(ALERTS_RATE))
    with segment() as seg:
        sensor = Sensor(seg, tmp_path, args)
        scraper: Scraper | None = None
        try:
            sensor.start()
            started = time.monotonic()
            scraper = Scraper(seg, sensor, tmp_path)
            replay = _replay(seg, floods[0])
            # all raised, and the alert log's suppression published: the log writer counts
            # it as it drains the workers' findings, which can be a scrape behind them
            for s in scraper.scrapes(60, "the first flood's findings and their suppression"):
                captured = s["cctv_capture_packets_total"]
                arrived = replay.poll() is not None and captured + s["dropped"] >= FLOOD
                suppressed = s["suppressed"].get("rate", 0) + s["suppressed"].get("fold", 0)
                if arrived and s["cctv_findings_total"] >= captured and suppressed > 0:
                    break
            assert replay.wait() == 0
            first = scraper.seen[-1]

            replay = _replay(seg, floods[1])
            for s in scraper.scrapes(60, "the sensor to work on the second flood"):
                if s["cctv_capture_packets_total"] >= first["cctv_capture_packets_total"] + 1000:
                    break
            assert s["cctv_findings_total"] < s["cctv_capture_packets_total"], "still busy"
            signalled = time.monotonic()
            sensor.signal(signal.SIGTERM)
            status = sensor.stop(timeout=30)
            took = time.monotonic() - signalled
            replay.wait(timeout=scaled(60))
        finally:
            if scraper is not None:
                scraper.stop()
            sensor.kill()
    elapsed = time.monotonic() - started
    assert status == 0, sensor.log()
    _report(scraper.seen, alerts, took)  # shown with pytest -s
    assert took <= scaled(STOP_SECONDS), f"SIGTERM took {took:.1f} s"
    _assert_scrapes(scraper.seen)
    _assert_alert_log(alerts, sensor.log(), elapsed)


def _report(seen: list[dict[str, Any]], alerts: Path, took: float) -> None:
    kinds = [json.loads(line)["record"] for line in alerts.read_text().splitlines()]
    ages = [s["t1"] - s["taken"] for s in seen]
    print(
        f"\nflood: {len(seen)} scrapes, snapshot age max {max(ages):.2f} s "
        f"(median {float(np.median(ages)):.2f} s), /metrics max {max(s['bytes'] for s in seen):,} "
        f"bytes; SIGTERM {took:.2f} s; alert log {len(kinds)} lines "
        f"({kinds.count('finding')} finding, {kinds.count('summary')} summary, "
        f"{kinds.count('held_back')} held_back); suppressed {seen[-1]['suppressed']}"
    )


def _assert_scrapes(seen: list[dict[str, Any]]) -> None:
    assert len(seen) >= 5
    biggest = max(s["bytes"] for s in seen)
    assert biggest <= METRICS_BYTES, f"/metrics was {biggest:,} bytes"
    ages = [s["t1"] - s["taken"] for s in seen]
    assert max(ages) <= scaled(FRESH_SECONDS), f"snapshot ages up to {max(ages):.2f} s"


def _assert_alert_log(alerts: Path, log: str, elapsed: float) -> None:
    records = [json.loads(line) for line in alerts.read_text().splitlines()]  # whole lines
    stopped = re.search(r"stopped: \d+ packets, (\d+) findings; (.*)", log)
    assert stopped, log
    findings = int(stopped.group(1))
    assert "without a line of their own" in stopped.group(2)
    assert findings >= FLOOD
    assert sum(r["count"] for r in records) == findings, "every finding accounted for"
    kinds = [r["record"] for r in records]
    lines = kinds.count("finding") + kinds.count("summary")
    assert lines <= ALERTS_RATE * (10 + elapsed), f"{lines} lines in {elapsed:.0f} s"
    assert 1 <= kinds.count("held_back") <= elapsed / 60 + 2
