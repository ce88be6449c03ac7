"""Silent hosts (closed-network addresses only ever seen as destinations) have their own
list in the Markdown and HTML reports, apart from the devices, with the overflow said."""

from __future__ import annotations

from monitor.model import DeviceSummary
from monitor.report.html import render_html
from monitor.report.markdown import render_markdown
from tests.unit.report_samples import clean_result


def _with_silent(overflow: int = 0):  # type: ignore[no-untyped-def]
    result = clean_result()
    result.silent_hosts = [
        DeviceSummary(ip="10.20.7.1", packets=2, bytes=120, flows=1, first_ts=1.7e9, last_ts=1.7e9),
        DeviceSummary(
            ip="10.20.7.9", packets=40, bytes=2400, flows=40, findings=1, first_ts=1.7e9,
            last_ts=1.7e9 + 5,
        ),
    ]  # fmt: skip
    result.silent_overflow = overflow
    return result


def test_markdown_lists_silent_hosts_apart_busiest_first() -> None:
    text = render_markdown(_with_silent())
    section = text.split("### Silent hosts", 1)[1].split("\n## ", 1)[0]
    assert section.index("10.20.7.9") < section.index("10.20.7.1")
    assert "| 10.20.7.9 | 40 | 2,400 B (2.3 KiB) | 40 | 1 |" in section
    assert "more address" not in section
    devices = text.split("## Devices", 1)[1].split("### Silent hosts", 1)[0]
    assert "10.20.7.9" not in devices  # not a device


def test_html_lists_silent_hosts_and_says_how_many_more() -> None:
    page = render_html(_with_silent(overflow=1))
    section = page.split("<h3>Silent hosts</h3>", 1)[1].split("</section>", 1)[0]
    assert "10.20.7.1" in section and "10.20.7.9" in section
    assert "1 more address beyond the limit, counted as other." in section
    assert "2 more addresses" in render_markdown(_with_silent(overflow=2))


def test_no_section_without_silent_hosts() -> None:
    assert "Silent hosts" not in render_markdown(clean_result())
    assert "Silent hosts" not in render_html(clean_result())
