"""A real Prometheus server scrapes the live sensor and can query its findings.

Prometheus runs inside the sensor's namespace and scrapes the sensor on that
namespace's loopback; the test queries Prometheus's HTTP API from inside it too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from monitor.classify.catalog import load_catalog
from monitor.config import load_policy
from monitor.replay import run_replay
from tests.waiting import scaled, wait_until

from .netns import FETCH, PCAPS, Segment, Sensor, need, run, segment

pytestmark = [pytest.mark.slow, pytest.mark.tools]
SENSOR_PORT, PROM_PORT = 9108, 9090
QUERY = 'cctv_findings_total{kind="egress"}'


def _config(path: Path) -> None:
    path.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: cctv-monitor\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{SENSOR_PORT}']\n"
    )


def _query(seg: Segment, expr: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{PROM_PORT}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        body = run(seg.sensor_cmd(sys.executable, "-c", FETCH, url, str(scaled(5))), timeout=20)
    except subprocess.CalledProcessError:
        return []
    doc = json.loads(body)
    return doc["data"]["result"] if doc.get("status") == "success" else []


def _expected_labels() -> set[tuple[str, str, str]]:
    pol = load_policy(PCAPS / "site.yaml")
    counters = run_replay([str(PCAPS / "egress.pcap")], pol, load_catalog()).pipeline.counters
    egress = [key for key, n in counters.findings.items() if key[2] == "egress" and n]
    return {(pol.site, device, vendor) for device, vendor, _ in egress}


def test_prometheus_sees_egress_findings(tmp_path: Path) -> None:
    need("ip", "tcpreplay", "prometheus")
    config = tmp_path / "prometheus.yml"
    _config(config)
    want = _expected_labels()
    assert want, "egress.pcap must raise egress findings"
    with segment() as seg:
        sensor = Sensor(seg, tmp_path, ("--config", str(PCAPS / "site.yaml")), port=SENSOR_PORT)
        prom: subprocess.Popen[bytes] | None = None
        try:
            sensor.start()
            prom_cmd = [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{PROM_PORT}",
            ]
            with open(tmp_path / "prometheus.log", "wb") as log:
                prom = subprocess.Popen(seg.sensor_cmd(*prom_cmd), stdout=log, stderr=log)
            wait_until(lambda: _query(seg, "up == 1"), 60, "Prometheus to scrape the sensor")
            seg.replay(PCAPS / "egress.pcap")
            result = wait_until(lambda: _found(seg, want), 60, "egress findings in Prometheus")
            for series in result:
                labels = series["metric"]
                assert labels["job"] == "cctv-monitor"
                assert labels["kind"] == "egress"
                assert float(series["value"][1]) >= 1
        finally:
            if prom is not None:
                prom.terminate()
                try:
                    prom.wait(timeout=scaled(20))
                except subprocess.TimeoutExpired:
                    prom.kill()
            sensor.kill()


def _found(seg: Segment, want: set[tuple[str, str, str]]) -> list[dict[str, Any]] | None:
    result = _query(seg, QUERY)
    got = {(s["metric"]["site"], s["metric"]["device"], s["metric"]["vendor"]) for s in result}
    return result if got == want else None
