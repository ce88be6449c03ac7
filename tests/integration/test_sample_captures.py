"""Every bundled sample capture, replayed under pcaps/site.yaml, gives its reviewed result.

The expectations in pcaps/expected.yaml were written from what the traffic means under
the contract (and counted from the generated frames), not from the monitor's output.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.cli import main

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
EXPECTED: dict[str, Any] = yaml.safe_load((PCAPS / "expected.yaml").read_text())["captures"]
FINDING_FIELDS = (
    "kind",
    "device",
    "peer",
    "peer_port",
    "proto",
    "peer_name",
    "query_name",
    "vendor",
    "answered",
    "flows",
    "packets",
    "bytes",
)


def replay_json(*args: str) -> tuple[int, dict[str, Any]]:
    """Run `cctv-monitor replay ... --json` in-process; return exit status and report."""
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["replay", *args, "--json", "--no-progress"])
    return status, json.loads(out.getvalue())


@pytest.fixture(scope="module")
def reports() -> dict[str, tuple[int, dict[str, Any]]]:
    config = str(PCAPS / "site.yaml")
    return {name: replay_json(str(PCAPS / name), "--config", config) for name in EXPECTED}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_input_totals_match_the_generated_frames(name: str, reports: dict) -> None:
    _, report = reports[name]
    exp = EXPECTED[name]
    (inp,) = report["inputs"]
    assert (inp["packets"], inp["bytes"]) == (exp["packets"], exp["bytes"])
    assert inp["first_ts"] == pytest.approx(exp["first_ts"], abs=1e-6)
    assert inp["last_ts"] == pytest.approx(exp["last_ts"], abs=1e-6)
    assert inp["truncated"] is False and inp["errors"] == []
    assert report["totals"]["packets"] == exp["packets"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdict_findings_and_exit_status(name: str, reports: dict) -> None:
    status, report = reports[name]
    exp = EXPECTED[name]
    assert report["schema"] == "cctv-monitor/report/v1"
    assert report["verdict"] == exp["verdict"]
    assert status == (0 if exp["verdict"] == "clean" else 1)
    got = sorted(
        ({k: f[k] for k in FINDING_FIELDS} for f in report["findings"]),
        key=lambda f: json.dumps(f, sort_keys=True),
    )
    want = sorted(
        ({k: f[k] for k in FINDING_FIELDS} for f in exp["findings"]),
        key=lambda f: json.dumps(f, sort_keys=True),
    )
    assert got == want


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_finding_times_and_evidence(name: str, reports: dict) -> None:
    _, report = reports[name]
    by_flow = {_key(f): f for f in report["findings"]}
    for exp in EXPECTED[name]["findings"]:
        got = by_flow[_key(exp)]
        assert got["first_ts"] == pytest.approx(exp["first_ts"], abs=1e-6)
        assert got["last_ts"] == pytest.approx(exp["last_ts"], abs=1e-6)
        assert got["evidence"] and exp["peer"] in got["evidence"]


def test_without_a_policy_private_hosts_are_the_closed_network() -> None:
    status, report = replay_json(str(PCAPS / "egress.pcap"))
    assert status == 1
    assert {f["device"] for f in report["findings"]} == {"10.20.1.11", "10.20.1.12", "10.20.1.13"}
    assert any(d["ip"] == "10.20.0.2" for d in report["devices"])


def _key(f: dict[str, Any]) -> tuple[Any, ...]:
    return (f["kind"], f["device"], f["peer"], f["peer_port"], f["peer_name"], f["answered"])
