"""The Markdown report: headline, inputs, devices, findings, and escaping of packet data."""

from __future__ import annotations

from monitor.model import FindingKind
from monitor.report._common import bytes_text, iso_utc
from monitor.report.markdown import md, render_markdown
from monitor.text import human_bytes
from tests.unit.report_samples import CAM, NVR, clean_result, findings_result


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_clean_headline() -> None:
    text = render_markdown(clean_result())
    assert "**CLEAN: no traffic left the closed network**" in text
    assert "FINDINGS" not in text
    assert "Warning" not in text
    assert _section(text, "Findings by kind").strip().endswith("None.")


def test_findings_headline_counts_findings_and_devices() -> None:
    result = findings_result()
    text = render_markdown(result)
    # the second input is damaged: there may be more than the findings shown
    assert "**FINDINGS: 6 findings on 2 devices over incomplete data: 1 input not read " in text
    result.inputs.pop()
    assert "**FINDINGS: 6 findings on 2 devices**" in render_markdown(result)


def test_singular_headline() -> None:
    result = findings_result()
    result.findings = result.findings[:1]
    result.inputs.pop()
    assert "**FINDINGS: 1 finding on 1 device**" in render_markdown(result)


def test_damaged_input_is_flagged() -> None:
    text = render_markdown(findings_result())
    assert "> **Warning:** 1 input could not be read completely" in text
    inputs = _section(text, "Inputs")
    assert "**TRUNCATED, 1 ERROR, 2 undecodable frames**" in inputs
    assert "- record 11: truncated \\<header\\>" in inputs
    assert "| ok |" in inputs


def test_empty_capture_is_not_silently_clean() -> None:
    result = clean_result()
    result.packets = 0
    assert "No packets were read" in render_markdown(result)


def test_every_kind_is_summarised() -> None:
    kinds = _section(render_markdown(findings_result()), "Findings by kind")
    for kind in FindingKind:
        assert f"| `{kind}` |" in kinds


def test_devices_and_traffic_by_verdict() -> None:
    devices = _section(render_markdown(findings_result()), "Devices")
    assert devices.index(f"| {NVR} |") < devices.index(f"| {CAM} |")
    assert "| internal | service | discovery | egress | vendor_cloud | inbound |" in devices
    assert f"| {CAM} | 1.4 MiB | - | 9.8 KiB | 180 B | 4.8 MiB | - |" in devices


def test_findings_one_table_per_kind_in_contract_order() -> None:
    findings = _section(render_markdown(findings_result()), "Findings by kind")
    order = [findings.index(f"### `{k}`: ") for k in FindingKind]
    assert order == sorted(order)
    assert "1 finding on 1 device." in findings  # singular, every kind has one here
    egress = findings[order[0] : order[1]]
    assert "| device | outside address | port | name | answered | first (UTC) |" in egress
    assert f"| {CAM} | 203.0.113.5 | 443/tcp | - | **no** | 2024-05-01T12:00:10.000Z" in egress
    cloud = findings[order[1] : order[2]]
    assert "| vendor | endpoint |" in cloud and "| hikvision | hik-connect |" in cloud
    assert "| 5,000,000 B (4.8 MiB) | TLS SNI dev.hik-connect.com |" in cloud
    inbound = findings[order[-1] :]
    assert f"| {NVR} | 198.51.100.7 | 8000/tcp |" in inbound
    assert f"| {CAM} | 10.20.0.1 | icmp |" in findings[order[4] : order[5]]


def test_packet_text_is_escaped() -> None:
    text = render_markdown(findings_result())
    assert "<script>" not in text
    assert "\\<script\\>alert\\(1\\)\\</script\\>" in text
    assert "\\| \\*evil\\* \\[x\\]\\(y\\)" in text  # no table break, emphasis or link
    assert "DNS to 8.8.8.8 second line" in text  # newline cannot break the table row
    assert 'a\\&b"\\<c\\>.pcap' in text


def test_md_escape_helper() -> None:
    assert md(None) == "-" and md("") == "-"
    assert md("cam_01|x") == "cam\\_01\\|x"
    assert md("evil\u202etxt.exe") == "evil\ufffdtxt.exe"  # no bidi override
    assert md("dev.hik-connect.com") == "dev.hik-connect.com"


def test_time_and_size_text() -> None:
    assert iso_utc(1_714_564_800.5) == "2024-05-01T12:00:00.500Z"
    assert iso_utc(None) == "-"
    assert human_bytes(512) == "512 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert bytes_text(3_145_728) == "3,145,728 B (3.0 MiB)"
