"""The JSON report's objects field by field: every key present once, under its own name,
with the value of the result it reports (model.py's DeviceSummary, Finding, InputSummary).
"""

from __future__ import annotations

from monitor.model import DeviceFact, FactConflict, FindingKind
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


def test_a_device_has_every_field_once_in_order() -> None:
    doc = report_dict(_described_camera())
    for dev in doc["devices"]:
        assert list(dev) == DEVICE_KEYS


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


def test_a_finding_has_every_field_once_in_order() -> None:
    for f in report_dict(findings_result())["findings"]:
        assert list(f) == FINDING_KEYS


def test_a_finding_reports_its_flow() -> None:
    findings = report_dict(findings_result())["findings"]
    inbound = next(f for f in findings if f["kind"] == FindingKind.INBOUND.value)
    assert inbound["answered"] is True  # report_samples: answered unless said otherwise
    assert (inbound["first_ts"], inbound["last_ts"]) == (T0 + 50, T0 + 52.25)
    assert (inbound["packets"], inbound["bytes"], inbound["peer_port"]) == (12, 3456, 8000)
    assert inbound["flow_uid"] == "F50"


def test_an_input_has_every_field_once_with_its_times() -> None:
    first, damaged = report_dict(findings_result())["inputs"]
    assert list(first) == INPUT_KEYS and list(damaged) == INPUT_KEYS
    assert (first["first_ts"], first["last_ts"]) == (T0, T0 + 3600.5)
    assert (damaged["first_ts"], damaged["last_ts"]) == (T0 + 4000, T0 + 4001)
