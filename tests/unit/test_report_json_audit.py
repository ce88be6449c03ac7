"""The report's ``coverage``, ``provenance`` and ``silent_hosts`` objects, field by field,
from an audit whose every value is distinct (so a swapped or dropped field shows)."""

from __future__ import annotations

import json

from monitor.audit import GapSummary, InterfaceDrops, Provenance, TimeGap
from monitor.model import DeviceSummary, InputSummary
from monitor.report.json_report import report_dict
from tests.unit.report_samples import clean_result

T0 = 1_700_000_000.0


def _audit():  # type: ignore[no-untyped-def]
    result = clean_result()
    damaged = InputSummary(
        path="a.pcapng", packets=7, bytes=700, first_ts=T0, last_ts=T0 + 9, truncated=True,
        format="pcapng", size=4096, sha256="aa" * 32, read_bytes=2048, damage_offset=2000,
        interface_drops=[InterfaceDrops(0, "eth1", 11, 3, 5), InterfaceDrops(1, None, None, None, 2)],  # noqa: E501
    )  # fmt: skip
    whole = InputSummary(
        path="b.pcap", packets=2, bytes=120, first_ts=T0 + 20, last_ts=T0 + 700,
        format="pcap", size=300, sha256="bb" * 32, read_bytes=300,
    )  # fmt: skip
    copy = InputSummary(path="c.pcap", size=300, sha256="bb" * 32, duplicate_of="b.pcap")
    missing = InputSummary(path="d.pcap", errors=["d.pcap: cannot open: no such file"])
    result.inputs = [damaged, whole, copy, missing]
    result.gaps = GapSummary(threshold=300.0, gaps=[TimeGap(T0 + 20, T0 + 650)], total=2,
                             seconds=700.5, longest=630.0)  # fmt: skip
    result.provenance = Provenance(
        tool_version="9.8.7", catalog_version="2026-11-21", policy_path="site.yaml",
        policy_sha256="cc" * 32, generated="2026-12-04T23:00:00Z",
        command_line=["cctv-monitor", "replay", "a.pcapng"], evidence_path="ev.pcap",
        evidence_sha256="dd" * 32, evidence_packets=3,
    )  # fmt: skip
    quiet = DeviceSummary(ip="10.20.7.9", packets=4, bytes=240, flows=3, findings=1)
    quiet.first_ts, quiet.last_ts = T0 + 1, T0 + 2
    result.silent_hosts = [quiet]
    result.silent_overflow = 6
    return result


def test_coverage_says_what_each_input_gave_and_what_is_missing() -> None:
    coverage = report_dict(_audit())["coverage"]
    assert coverage["complete"] is False and coverage["reasons"]
    assert coverage["inputs"] == [
        {"path": "a.pcapng", "status": "partial", "complete": False, "size": 4096,
         "read_bytes": 2048, "damage_offset": 2000, "duplicate_of": None},
        {"path": "b.pcap", "status": "complete", "complete": True, "size": 300,
         "read_bytes": 300, "damage_offset": None, "duplicate_of": None},
        {"path": "c.pcap", "status": "duplicate", "complete": True, "size": 300,
         "read_bytes": 0, "damage_offset": None, "duplicate_of": "b.pcap"},
        {"path": "d.pcap", "status": "unreadable", "complete": False, "size": None,
         "read_bytes": 0, "damage_offset": None, "duplicate_of": None},
    ]  # fmt: skip
    assert coverage["gap_threshold_seconds"] == 300.0
    assert coverage["gaps"] == [{"start": T0 + 20, "end": T0 + 650, "seconds": 630.0}]
    assert (coverage["gaps_total"], coverage["gap_seconds_total"]) == (2, 700.5)
    assert coverage["interface_drops"] == [
        {"input": "a.pcapng", "interface": 0, "name": "eth1", "received": 11, "ifdrop": 3,
         "osdrop": 5},
        {"input": "a.pcapng", "interface": 1, "name": None, "received": None, "ifdrop": None,
         "osdrop": 2},
    ]  # fmt: skip


def test_provenance_names_tool_policy_inputs_evidence_time_and_command() -> None:
    prov = report_dict(_audit())["provenance"]
    assert prov == {
        "tool": "cctv-monitor", "tool_version": "9.8.7", "catalog_version": "2026-11-21",
        "policy": {"path": "site.yaml", "sha256": "cc" * 32, "builtin": False},
        "inputs": [
            {"path": "a.pcapng", "size": 4096, "sha256": "aa" * 32, "format": "pcapng",
             "first_ts": T0, "last_ts": T0 + 9, "duplicate_of": None},
            {"path": "b.pcap", "size": 300, "sha256": "bb" * 32, "format": "pcap",
             "first_ts": T0 + 20, "last_ts": T0 + 700, "duplicate_of": None},
            {"path": "c.pcap", "size": 300, "sha256": "bb" * 32, "format": "",
             "first_ts": None, "last_ts": None, "duplicate_of": "b.pcap"},
            {"path": "d.pcap", "size": None, "sha256": None, "format": "",
             "first_ts": None, "last_ts": None, "duplicate_of": None},
        ],
        "evidence": {"path": "ev.pcap", "sha256": "dd" * 32, "packets": 3},
        "generated": "2026-12-04T23:00:00Z",
        "command_line": ["cctv-monitor", "replay", "a.pcapng"],
    }  # fmt: skip
    assert list(prov) == ["tool", "tool_version", "catalog_version", "policy", "inputs",
                          "evidence", "generated", "command_line"]  # fmt: skip


def test_built_in_policy_and_no_evidence() -> None:
    result = _audit()
    result.provenance = Provenance("1", "c", None, None, "2026-12-04T23:00:00Z", ["x"])
    prov = report_dict(result)["provenance"]
    assert prov["policy"] == {"path": None, "sha256": None, "builtin": True}
    assert prov["evidence"] is None
    result.provenance = None
    assert report_dict(result)["provenance"] is None


def test_silent_hosts_and_their_overflow() -> None:
    report = report_dict(_audit())
    assert report["silent_hosts"] == [
        {"ip": "10.20.7.9", "packets_received": 4, "bytes_received": 240, "flows": 3,
         "findings": 1, "first_ts": T0 + 1, "last_ts": T0 + 2},
    ]  # fmt: skip
    assert report["silent_hosts_overflow"] == 6
    json.dumps(report, allow_nan=False)  # plain JSON values only
