"""The JSON report (CONTRACT.md §4) and write_report's choice of format."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest

from monitor.model import FindingKind, Verdict
from monitor.report import REPORT_SUFFIXES, write_report
from monitor.report.json_report import SCHEMA, report_dict, write_json
from tests.unit.report_samples import CAM, HOSTILE_PATH, NVR, T0, clean_result, findings_result

FINDING_FIELDS = [
    "kind", "device", "peer", "peer_port", "proto", "peer_name", "vendor", "endpoint",
    "answered", "first_ts", "last_ts", "packets", "bytes", "evidence",
]  # fmt: skip


def test_top_level_keys_in_contract_order() -> None:
    doc = report_dict(clean_result())
    expected = ["schema", "verdict", "site", "inputs", "totals", "devices", "findings", "summary"]
    assert list(doc)[: len(expected)] == expected
    assert list(doc)[-2:] == ["coverage", "provenance"]  # additions come after the contract
    assert doc["schema"] == SCHEMA == "cctv-monitor/report/v1"


def test_clean_result() -> None:
    doc = report_dict(clean_result())
    assert doc["verdict"] == "clean"
    assert doc["site"] == "hamburg-hansaplatz"
    assert doc["totals"] == {"packets": 1000, "bytes": 1_500_000, "flows": 2}
    assert doc["findings"] == []
    assert doc["summary"]["findings_by_kind"] == {k.value: 0 for k in FindingKind}
    assert doc["summary"]["findings_by_device"] == {}


def test_inputs_carry_contract_fields_and_errors() -> None:
    doc = report_dict(findings_result())
    first, damaged = doc["inputs"]
    contract = ["path", "packets", "bytes", "first_ts", "last_ts", "truncated", "errors"]
    assert list(first)[: len(contract)] == contract
    assert first["format"] == "pcapng"
    assert first["truncated"] is False and first["errors"] == []
    assert isinstance(first["first_ts"], float) and first["first_ts"] == T0
    assert damaged["path"] == HOSTILE_PATH
    assert damaged["truncated"] is True
    assert damaged["errors"] == ["record 11: truncated <header>"]
    assert damaged["undecodable"] == 2


def test_devices_sorted_by_address_with_bytes_by_verdict() -> None:
    doc = report_dict(findings_result())
    assert [d["ip"] for d in doc["devices"]] == [NVR, CAM]  # numeric, not text order
    cam = doc["devices"][1]
    contract = ["ip", "name", "vendor", "role", "packets", "bytes", "flows", "findings"]
    assert list(cam)[: len(contract)] == contract
    assert cam["name"] == "cam-hansa-01" and cam["vendor"] == "hikvision"
    assert cam["findings"] == 5 and cam["mac"] == "c0:56:e3:00:00:01"
    assert list(cam["bytes_by_verdict"]) == [v.value for v in Verdict]
    assert cam["bytes_by_verdict"]["vendor_cloud"] == 5_000_000
    assert cam["bytes_by_verdict"]["inbound"] == 0
    assert doc["devices"][0]["vendor"] is None


def test_findings_have_contract_fields_and_types() -> None:
    doc = report_dict(findings_result())
    assert doc["verdict"] == "findings"
    findings = doc["findings"]
    assert {f["kind"] for f in findings} == {k.value for k in FindingKind}
    assert [f["first_ts"] for f in findings] == sorted(f["first_ts"] for f in findings)
    for f in findings:
        assert list(f)[: len(FINDING_FIELDS)] == FINDING_FIELDS
        assert isinstance(f["first_ts"], float) and isinstance(f["last_ts"], float)
        assert isinstance(f["answered"], bool)
        assert type(f["packets"]) is int and type(f["bytes"]) is int
    egress = next(f for f in findings if f["kind"] == "egress")
    assert egress["answered"] is False and egress["peer_port"] == 443 and egress["proto"] == "tcp"
    upnp = next(f for f in findings if f["kind"] == "upnp_port_mapping")
    assert upnp["peer_port"] is None and upnp["peer_name"] is None
    cloud = next(f for f in findings if f["kind"] == "vendor_cloud")
    assert (cloud["vendor"], cloud["endpoint"]) == ("hikvision", "hik-connect")


def test_summary_counts_by_kind_and_device() -> None:
    summary = report_dict(findings_result())["summary"]
    assert summary["findings_by_kind"] == {k.value: 1 for k in FindingKind}
    assert list(summary["findings_by_kind"]) == [k.value for k in FindingKind]
    assert summary["findings_by_device"] == {NVR: 1, CAM: 5}


def test_nan_and_infinite_times_become_null() -> None:
    result = clean_result()
    result.devices[0].first_ts = math.nan
    result.inputs[0].last_ts = math.inf
    doc = report_dict(result)
    assert doc["devices"][0]["first_ts"] is None
    assert doc["inputs"][0]["last_ts"] is None
    json.dumps(doc, allow_nan=False)


def test_write_json_is_parseable_and_stable() -> None:
    result = findings_result()
    first, second = io.StringIO(), io.StringIO()
    write_json(result, first)
    write_json(result, second)
    assert first.getvalue() == second.getvalue()
    assert first.getvalue().endswith("}\n")
    assert json.loads(first.getvalue()) == report_dict(result)
    assert "<script>alert(1)</script>" in json.loads(first.getvalue())["findings"][1]["peer_name"]


@pytest.mark.parametrize("suffix", REPORT_SUFFIXES)
def test_write_report_picks_format_from_suffix(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"report{suffix}"
    write_report(findings_result(), path)
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        assert json.loads(text)["verdict"] == "findings"
    elif suffix == ".md":
        assert text.startswith("# cctv-monitor audit report")
    else:
        assert text.startswith("<!DOCTYPE html>")


def test_write_report_rejects_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    with pytest.raises(ValueError) as err:
        write_report(clean_result(), path)
    message = str(err.value)
    assert str(path) in message
    assert all(s in message for s in (".json", ".md", ".html"))
    assert not path.exists()


@pytest.mark.parametrize("suffix", REPORT_SUFFIXES)
def test_undecodable_names_are_written(tmp_path: Path, suffix: str) -> None:
    result = findings_result()
    result.findings[0].peer_name = "bücher.example\udcff"  # lone surrogate from a raw byte
    path = tmp_path / f"report{suffix}"
    write_report(result, path)
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        assert text.isascii()
        assert json.loads(text)["findings"][-1]["peer_name"].startswith("bücher.example")
    else:
        assert "bücher.example\ufffd" in text
