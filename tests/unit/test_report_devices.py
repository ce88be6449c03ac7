"""Device facts in the reports: JSON fields, the Markdown/HTML sections, hostile values."""

from __future__ import annotations

from monitor.model import AuditResult, DeviceFact, FactConflict
from monitor.report.html import render_html
from monitor.report.json_report import report_dict
from monitor.report.markdown import render_markdown
from tests.unit.report_samples import CAM, HOSTILE_NAME, clean_result

OUI = "MAC OUI C0:56:E3 (IEEE registry)"


def _result() -> AuditResult:
    result = clean_result()
    cam = next(d for d in result.devices if d.ip == CAM)
    cam.model, cam.firmware, cam.serial = "DS-2CD2143G2-I", "V5.7.3", "DS-2CD2143G2-I2023"
    cam.hostname = HOSTILE_NAME
    cam.services = ["80/tcp http", "554/tcp rtsp"]
    cam.evidence = [
        DeviceFact("vendor", "hikvision", "site inventory", "declared"),
        DeviceFact("vendor", "dahua", OUI, "high"),
        DeviceFact("role", "camera", "serves RTSP to 1 client", "medium"),
        DeviceFact("hostname", HOSTILE_NAME, "DHCP option 12 host name", "medium"),
    ]
    cam.conflicts = [FactConflict("vendor", "hikvision", "dahua", OUI, "high")]
    return result


def test_json_device_fields() -> None:
    dev = report_dict(_result())["devices"][1]
    assert (dev["model"], dev["firmware"], dev["serial"]) == (
        "DS-2CD2143G2-I",
        "V5.7.3",
        "DS-2CD2143G2-I2023",
    )
    assert dev["services"] == ["80/tcp http", "554/tcp rtsp"]
    assert dev["evidence"][1] == {
        "fact": "vendor",
        "value": "dahua",
        "source": OUI,
        "confidence": "high",
    }
    assert dev["conflicts"] == [
        {
            "fact": "vendor",
            "inventory": "hikvision",
            "observed": "dahua",
            "source": OUI,
            "confidence": "high",
        }
    ]
    nvr = report_dict(_result())["devices"][0]
    assert (nvr["evidence"], nvr["conflicts"], nvr["model"]) == ([], [], None)


def test_markdown_sections() -> None:
    text = render_markdown(_result())
    assert "| model |" in text and "| DS-2CD2143G2-I |" in text
    facts = text[text.index("### Device facts from traffic") :]
    assert "vendor dahua: MAC OUI C0:56:E3 \\(IEEE registry\\) \\(high\\)" in facts
    assert "\\<script\\>alert\\(1\\)\\</script\\>" in facts and "<script>" not in text
    assert "### Inventory conflicts" in text
    assert "cam-hansa-01): vendor: inventory hikvision, traffic dahua" in text


def test_html_sections_escape_packet_data() -> None:
    text = render_html(_result())
    assert "<h3>Device facts from traffic</h3>" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>" not in text
    assert "Inventory conflicts</h3>" in text
    assert "vendor: inventory hikvision, traffic dahua" in text


def test_no_facts_no_sections() -> None:
    text = render_markdown(clean_result())
    assert "Device facts" not in text and "Inventory conflicts" not in text
    assert "Device facts" not in render_html(clean_result())
