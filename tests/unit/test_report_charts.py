"""The inline SVG charts: escaped, self-contained, bounded, and drawn where the data says."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from monitor.report import svg_charts
from monitor.report.html import render_html
from monitor.report.svg_charts import BarRow, TimelineRow, bars, tick_label, tick_step, timeline
from tests.unit.report_samples import HOSTILE_NAME, T0, findings_result

COLORS = {"egress": "#e0663e", "vendor_cloud": "#b8233a"}


def _svg(text: str) -> ElementTree.Element:
    """The chart parsed as XML: well-formed, escaped text stays text."""
    return ElementTree.fromstring(text)


def _rects(svg: ElementTree.Element) -> list[dict[str, float]]:
    """The data marks: rectangles that carry a tooltip."""
    return [
        {k: float(r.get(k, "0")) for k in ("x", "y", "width", "height")}
        for r in svg.iter("rect")
        if r.find("title") is not None
    ]


def _self_contained(text: str) -> None:
    assert "<script" not in text and "href" not in text and "url(" not in text
    assert "//" not in text  # no namespace URL, no link: the HTML parser needs none


def test_timeline_places_findings_on_the_time_axis() -> None:
    rows = [
        TimelineRow("10.20.1.11 cam-01", [("egress", T0 + 10, T0 + 20)]),
        TimelineRow(f"10.20.1.12 {HOSTILE_NAME}", [("vendor_cloud", T0 + 100, T0 + 100)]),
    ]
    text = timeline(rows, T0, T0 + 100, COLORS, "Findings over time")
    _self_contained(text)
    svg = _svg(text)
    assert svg.get("width") == "100%" and svg.get("viewBox", "").startswith("0 0 960 ")
    labels = [t.text for t in svg.iter("text")]
    assert f"10.20.1.12 {HOSTILE_NAME}"[:29] + "\u2026" in labels  # cut to fit, escaped
    assert "&lt;script&gt;" in text
    first, last = _rects(svg)
    plot = svg_charts.WIDTH - svg_charts.LABEL_W - svg_charts.RIGHT
    assert abs(first["x"] - (svg_charts.LABEL_W + 0.1 * plot)) < 1
    assert abs(first["width"] - 0.1 * plot) < 3  # 10 of 100 seconds
    assert last["width"] == svg_charts.MIN_MARK  # one instant stays visible
    assert last["x"] + last["width"] <= svg_charts.WIDTH
    assert first["y"] < last["y"]  # one row per device, in the order given
    assert "12:00:00" in labels and "12:01:30" in labels  # ticks every 15 s


def test_timeline_is_bounded_whatever_the_findings() -> None:
    many = [("egress", T0 + i, T0 + i) for i in range(0, 20_000, 2)]  # 10,000 findings
    rows = [TimelineRow(f"10.0.{i // 256}.{i % 256}", many if i == 0 else []) for i in range(100)]
    svg = _svg(timeline(rows, T0, T0 + 20_000, COLORS, "t"))
    marks = _rects(svg)
    assert len(marks) <= svg_charts.BUCKETS
    assert sum(int(re.search(r"(\d+) finding", r.findtext("title") or "")[1])  # type: ignore[index]
               for r in svg.iter("rect") if r.find("title") is not None) == 10_000  # fmt: skip
    labels = [t.text or "" for t in svg.iter("text")]
    assert "60 more not drawn" in labels
    assert sum(1 for t in labels if t.startswith("10.0.")) == svg_charts.MAX_ROWS


def test_touching_findings_merge_into_one_mark() -> None:
    spans = [("egress", T0, T0 + 1), ("egress", T0 + 1, T0 + 2), ("egress", T0 + 90, T0 + 91)]
    svg = _svg(timeline([TimelineRow("d", spans)], T0, T0 + 100, COLORS, "t"))
    tips = [r.findtext("title") for r in svg.iter("rect") if r.find("title") is not None]
    assert tips == ["d: egress, 2 findings", "d: egress, 1 finding"]


def test_time_axis_steps_and_labels() -> None:
    assert tick_step(224) == 30
    assert tick_step(5) == 1
    assert tick_step(86400) == 10800
    assert tick_step(10 * 365 * 86400) >= 365 * 86400
    assert tick_label(T0 + 90, 224) == "12:01:30"
    assert tick_label(T0, 2 * 86400) == "05-01 12:00"
    assert tick_label(T0, 90 * 86400) == "2024-05-01"


def test_bars_scale_to_the_largest_sender() -> None:
    rows = [
        BarRow("big", {"egress": 1_000_000, "vendor_cloud": 3_000_000}, "3.8 MiB sent"),
        BarRow("small", {"egress": 10, "vendor_cloud": 0}, f"{HOSTILE_NAME} 10 B sent"),
    ]
    text = bars(rows, COLORS, "Bytes sent outside per device")
    _self_contained(text)
    svg = _svg(text)
    egress, cloud, tiny = _rects(svg)
    assert abs(cloud["width"] - 3 * egress["width"]) < 0.2
    assert cloud["x"] == egress["x"] + egress["width"]  # stacked
    assert tiny["width"] == 2.0  # visible however small
    assert f"{HOSTILE_NAME} 10 B sent" in [t.text for t in svg.iter("text")]


def test_html_report_draws_both_charts_when_bytes_left() -> None:
    result = findings_result()
    text = render_html(result)
    assert text.count('<svg class="chart"') == 1  # no bytes sent recorded: no bar chart
    result.devices[1].bytes_sent_by_verdict = {"egress": 90, "vendor_cloud": 900}
    text = render_html(result)
    assert text.count('<svg class="chart"') == 2
    charts = text.index('<section id="charts">')
    assert text.index('<section id="answer">') < charts < text.index('<section id="findings">')
    assert "990 B sent" in text
