"""Devices are known from traffic alone: the sample captures replayed WITHOUT a site policy
report the vendor, model, firmware and role that pcaps/inventory.py declares next to the
traffic (expected.yaml ``devices``); with the site policy the inventory wins."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.classify.catalog import load_catalog
from monitor.config import default_policy
from monitor.pipeline import PipelineSettings
from monitor.replay import run_replay
from tests.integration.test_sample_captures import EXPECTED, PCAPS, replay_json

WITH_DEVICES = sorted(name for name, exp in EXPECTED.items() if exp.get("devices"))


@pytest.fixture(scope="module")
def reports() -> dict[str, dict[str, Any]]:
    return {name: replay_json(str(PCAPS / name))[1] for name in WITH_DEVICES}


def test_the_clean_baseline_declares_its_devices() -> None:
    assert "clean.pcap" in WITH_DEVICES and "demo_day.pcap.gz" in WITH_DEVICES


@pytest.mark.parametrize("name", WITH_DEVICES)
def test_facts_learned_from_traffic(name: str, reports: dict[str, dict[str, Any]]) -> None:
    devices = {d["ip"]: d for d in reports[name]["devices"]}
    for want in EXPECTED[name]["devices"]:
        got = devices[want["ip"]]
        assert {k: got[k] for k in want} == want, want["ip"]
        assert got["name"] is None  # nothing came from an inventory
        for key in ("vendor", "model", "firmware", "role"):
            if got[key] is not None:  # every fact shown has its evidence
                assert any(e["fact"] == key and e["value"] == got[key] for e in got["evidence"])


def test_every_host_of_the_clean_capture_is_declared(reports: dict[str, dict[str, Any]]) -> None:
    hosts = {
        d["ip"]
        for d in reports["clean.pcap"]["devices"]
        if not ipaddress.ip_address(d["ip"]).is_multicast
    }
    assert hosts == {d["ip"] for d in EXPECTED["clean.pcap"]["devices"]}


def test_evidence_is_well_formed(reports: dict[str, dict[str, Any]]) -> None:
    for dev in reports["clean.pcap"]["devices"]:
        for item in dev["evidence"]:
            assert list(item) == ["fact", "value", "source", "confidence"]
            assert item["confidence"] in ("high", "medium", "low") and item["source"]
        assert dev["conflicts"] == []


def test_with_the_site_policy_the_inventory_wins_without_conflict() -> None:
    _, report = replay_json(str(PCAPS / "clean.pcap"), "--config", str(PCAPS / "site.yaml"))
    devices = {d["ip"]: d for d in report["devices"]}
    nvr = devices["10.20.0.2"]
    assert (nvr["name"], nvr["vendor"], nvr["model"], nvr["role"]) == (
        "nvr-1",
        "hikvision",
        "DS-7616NI-K2",
        "recorder",
    )
    assert nvr["firmware"] == "V4.30.085 build 200916"  # not in the inventory: from traffic
    assert nvr["evidence"][0]["confidence"] == "declared"
    assert all(d["conflicts"] == [] for d in report["devices"])


def test_a_wrong_inventory_is_reported(tmp_path: Path) -> None:
    site = yaml.safe_load((PCAPS / "site.yaml").read_text())
    site["devices"][0]["vendor"] = "axis"  # 10.20.1.11 is a Hikvision
    site["devices"][2]["role"] = "recorder"  # 10.20.1.13 is a camera
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    report_md = tmp_path / "r.md"
    report_html = tmp_path / "r.html"
    args = ("--config", str(path), "--report", str(report_md))
    _, report = replay_json(str(PCAPS / "clean.pcap"), *args)
    replay_json(str(PCAPS / "clean.pcap"), "--config", str(path), "--report", str(report_html))
    devices = {d["ip"]: d for d in report["devices"]}
    cam = devices["10.20.1.11"]
    assert cam["vendor"] == "axis"
    (conflict,) = cam["conflicts"]
    assert conflict["fact"] == "vendor" and conflict["observed"] == "hikvision"
    assert "MAC OUI 44:19:B6" in conflict["source"] and conflict["confidence"] == "high"
    assert [c["observed"] for c in devices["10.20.1.13"]["conflicts"]] == ["camera"]
    markdown = report_md.read_text()
    assert "### Inventory conflicts" in markdown
    assert "cam-hansa-01): vendor: inventory axis, traffic hikvision" in markdown
    assert "Inventory conflicts" in report_html.read_text()
    assert report["findings"] == []


def test_fingerprinting_off_changes_no_finding() -> None:
    catalog, policy = load_catalog(), default_policy()
    path = [str(PCAPS / "demo_day.pcap.gz")]
    on = run_replay(path, policy, catalog).result
    off = run_replay(path, policy, catalog, PipelineSettings(fingerprint=False)).result
    assert [f.to_json() for f in on.findings] == [f.to_json() for f in off.findings]
    assert all(not d.evidence and d.model is None for d in off.devices)
    assert json.dumps([d.ip for d in on.devices]) == json.dumps([d.ip for d in off.devices])
