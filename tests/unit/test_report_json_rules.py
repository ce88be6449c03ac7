"""The JSON report's objects field by field: every key present under its own name, with
the value of the result it reports (model.py's DeviceSummary, Finding, InputSummary).

A report object's keys are names of its model's fields: fields may be added, but a key
is never renamed, duplicated under another spelling or invented.
"""

from __future__ import annotations

import dataclasses

from monitor.model import (
    DeviceFact,
    DeviceSummary,
    FactConflict,
    Finding,
    FindingKind,
    InputSummary,
    MirrorSession,
)
from monitor.report.json_report import report_dict
from tests.unit.report_samples import CAM, T0, findings_result

DEVICE_KEYS = [
    "ip", "name", "vendor", "role", "packets", "bytes", "flows", "findings",  # contract
    "mac", "model", "firmware", "serial", "hostname", "first_ts", "last_ts", "services",
    "bytes_by_verdict", "evidence", "conflicts",
]  # fmt: skip
FINDING_KEYS = [
    "kind", "device", "peer", "peer_port", "proto", "peer_name", "vendor", "endpoint",
    "answered", "first_ts", "last_ts", "packets", "bytes", "evidence", "flow_uid",
    "community_id",
]  # fmt: skip
INPUT_KEYS = [
    "path", "packets", "bytes", "first_ts", "last_ts", "truncated", "errors", "format",
    "undecodable",
]  # fmt: skip


def _described_camera():  # type: ignore[no-untyped-def]
    result = findings_result()
    cam = result.devices[1]
    cam.first_ts, cam.last_ts = T0 + 1.5, T0 + 99.25
    cam.model, cam.firmware, cam.serial = "DS-2CD2043G2-I", "V5.7.3", "DS-2CD2043G2-I20240101"
    cam.hostname, cam.services = "cam-hansa-01.local", ["80/tcp", "554/tcp"]
    cam.evidence = [DeviceFact("model", "DS-2CD2043G2-I", "sadp", "high")]
    cam.conflicts = [FactConflict("vendor", "dahua", "hikvision", "sadp", "high")]
    return result


def _fields(model: type) -> set[str]:
    """The model's fields, and its properties (``Finding.community_id``, of its flow_ref)."""
    properties = {name for name, v in vars(model).items() if isinstance(v, property)}
    return {f.name for f in dataclasses.fields(model)} | properties


def test_a_device_has_every_field_under_its_own_name() -> None:
    doc = report_dict(_described_camera())
    for dev in doc["devices"]:
        assert set(DEVICE_KEYS) <= set(dev) <= _fields(DeviceSummary)


def test_a_device_reports_what_was_learned_about_it() -> None:
    cam = next(d for d in report_dict(_described_camera())["devices"] if d["ip"] == CAM)
    assert (cam["model"], cam["firmware"], cam["serial"]) == (
        "DS-2CD2043G2-I",
        "V5.7.3",
        "DS-2CD2043G2-I20240101",
    )
    assert cam["hostname"] == "cam-hansa-01.local"
    assert (cam["first_ts"], cam["last_ts"]) == (T0 + 1.5, T0 + 99.25)
    assert cam["services"] == ["80/tcp", "554/tcp"]
    assert cam["evidence"] == [
        {"fact": "model", "value": "DS-2CD2043G2-I", "source": "sadp", "confidence": "high"}
    ]
    assert cam["conflicts"] == [
        {
            "fact": "vendor",
            "inventory": "dahua",
            "observed": "hikvision",
            "source": "sadp",
            "confidence": "high",
        }
    ]


def test_a_finding_has_every_field_under_its_own_name() -> None:
    for f in report_dict(findings_result())["findings"]:
        assert set(FINDING_KEYS) <= set(f) <= _fields(Finding)


def test_a_finding_reports_its_flow() -> None:
    findings = report_dict(findings_result())["findings"]
    inbound = next(f for f in findings if f["kind"] == FindingKind.INBOUND.value)
    assert inbound["answered"] is True  # report_samples: answered unless said otherwise
    assert (inbound["first_ts"], inbound["last_ts"]) == (T0 + 50, T0 + 52.25)
    assert (inbound["packets"], inbound["bytes"], inbound["peer_port"]) == (12, 3456, 8000)
    assert inbound["flow_uid"] == "F50"


def test_an_input_has_every_field_under_its_own_name_with_its_times() -> None:
    first, damaged = report_dict(findings_result())["inputs"]
    for inp in (first, damaged):
        assert set(INPUT_KEYS) <= set(inp) <= _fields(InputSummary)
    assert (first["first_ts"], first["last_ts"]) == (T0, T0 + 3600.5)
    assert (damaged["first_ts"], damaged["last_ts"]) == (T0 + 4000, T0 + 4001)


def test_coverage_names_the_mirror_sessions_and_the_frames_not_read() -> None:
    result = findings_result()
    result.mirror_sessions = [
        MirrorSession("vxlan", "10.99.0.1", "10.99.0.2", 4096, 900, 120_000, T0, T0 + 10.5)
    ]
    result.decode_errors = {"tunnel": 3, "ip": 2}
    coverage = report_dict(result)["coverage"]
    assert {k: coverage[k] for k in list(coverage)[2:6]} == {
        "mirror_sessions": [
            {
                "kind": "vxlan",
                "outer_src": "10.99.0.1",
                "outer_dst": "10.99.0.2",
                "session_id": 4096,
                "packets": 900,
                "bytes": 120_000,
                "first_ts": T0,
                "last_ts": T0 + 10.5,
            }
        ],
        "decode_errors": {"ip": 2, "tunnel": 3},  # by layer name
        "devices_overflow": 0,
        "flow_evictions": 0,
    }
    assert list(coverage["decode_errors"]) == ["ip", "tunnel"]
    result.devices_overflow, result.flow_evictions = 7, 12
    assert report_dict(result)["coverage"]["devices_overflow"] == 7
    assert report_dict(result)["coverage"]["flow_evictions"] == 12
    assert all(type(v) is int for v in coverage["decode_errors"].values())
