"""promtool checks the alert and recording rules and runs their unit tests (tests/rules/*_test.yml).

Skipped with the reason when promtool is missing, except under CI where a missing promtool
fails (``tests/requirements.py``; it ships in the Debian package ``prometheus``, which
``make system-deps`` installs).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.requirements import require_tool

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "dashboards" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
RULES = PROMETHEUS_DIR / "rules.yml"
TEST_FILES = sorted(Path(__file__).parent.glob("*_test.yml"))
CLEAN_SEGMENT_TEST = Path(__file__).parent / "clean_segment_test.yml"


def _run(*args: str) -> None:
    run = subprocess.run(
        [require_tool("promtool"), *args], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.tools
def test_rule_files_are_valid() -> None:
    _run("check", "rules", str(ALERTS.relative_to(ROOT)), str(RULES.relative_to(ROOT)))


@pytest.mark.tools
def test_rule_unit_tests_pass() -> None:
    assert TEST_FILES, "no tests/rules/*_test.yml"
    _run("test", "rules", *(str(p.relative_to(ROOT)) for p in TEST_FILES))


@pytest.mark.tools
def test_example_prometheus_config_is_valid() -> None:
    _run("check", "config", str((PROMETHEUS_DIR / "prometheus.example.yml").relative_to(ROOT)))


# ------------------------------------------------------------ coverage of the unit tests


def _alert_names() -> list[str]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"]]


def _alert_checks(path: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [check for test in doc["tests"] for check in test.get("alert_rule_test", [])]


def test_every_alert_is_tested_firing() -> None:
    firing = {
        check["alertname"]
        for path in TEST_FILES
        for check in _alert_checks(path)
        if check.get("exp_alerts")
    }
    assert set(_alert_names()) - firing == set()


def test_every_alert_is_tested_silent_on_a_clean_segment() -> None:
    silent = {c["alertname"] for c in _alert_checks(CLEAN_SEGMENT_TEST) if not c["exp_alerts"]}
    assert set(_alert_names()) - silent == set()
    assert all(not c["exp_alerts"] for c in _alert_checks(CLEAN_SEGMENT_TEST))


def test_every_firing_expectation_checks_all_annotations() -> None:
    for path in TEST_FILES:
        for check in _alert_checks(path):
            for alert in check.get("exp_alerts") or []:
                assert set(alert["exp_annotations"]) == {"summary", "description", "runbook_url"}
                assert alert["exp_labels"]["severity"] in {"critical", "warning"}


def test_every_test_file_loads_the_repo_rule_files() -> None:
    allowed = {"../../dashboards/prometheus/alerts.yml", "../../dashboards/prometheus/rules.yml"}
    for path in TEST_FILES:
        rule_files = yaml.safe_load(path.read_text(encoding="utf-8"))["rule_files"]
        assert rule_files and set(rule_files) <= allowed, path.name
