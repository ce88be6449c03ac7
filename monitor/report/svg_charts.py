"""Inline SVG charts for the HTML report: a findings timeline and bytes sent per device.

Pure string building: every text is escaped, nothing refers outside the document and
nothing runs, so the report's CSP (``default-src 'none'``) holds. Sizes are presentation
attributes (not CSS), so the charts keep their shape where styles are off. Drawing is
bounded whatever the capture: at most :data:`MAX_ROWS` rows, and per row and kind at most
one mark per :data:`BUCKETS`-th of the time axis (touching findings merge into one mark).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

WIDTH = 960  # viewBox units; the chart scales to its container
LABEL_W = 210  # left column for device labels
RIGHT = 16
ROW_H = 22
MAX_ROWS = 40
BUCKETS = 480
MIN_MARK = 5.0  # a one-packet finding stays visible
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
# (seconds per tick) candidates for the time axis, at most ~8 ticks
_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
          43200, 86400, 172800, 604800, 2592000, 31536000)  # fmt: skip


@dataclass(slots=True)
class TimelineRow:
    """One device: its label and its findings as (kind, first_ts, last_ts)."""

    label: str
    spans: list[tuple[str, float, float]] = field(default_factory=list)


@dataclass(slots=True)
class BarRow:
    """One device: its label and the bytes it sent, per part (e.g. per verdict)."""

    label: str
    parts: dict[str, int]
    note: str = ""  # text after the bar, e.g. the total


def esc(text: object) -> str:
    """Text for SVG content or an attribute value."""
    return html.escape(str(text), quote=True)


def _fit(label: str, chars: int = 30) -> str:
    return label if len(label) <= chars else label[: chars - 1] + "\u2026"


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def tick_step(span: float, most: int = 8) -> int:
    """The smallest round step (seconds) that puts at most ``most`` ticks on ``span``."""
    for step in _STEPS:
        if span / step <= most:
            return step
    return _STEPS[-1] * max(1, math.ceil(span / _STEPS[-1] / most))


def tick_label(ts: float, span: float) -> str:
    """``08:01:30`` (UTC) within a day; ``03-02 08:00`` beyond; ``2026-03-02`` beyond 30 days."""
    stamp = datetime.fromtimestamp(ts, UTC)
    if span > 30 * 86400:
        return stamp.strftime("%Y-%m-%d")
    return stamp.strftime("%m-%d %H:%M" if span > 86400 else "%H:%M:%S")


def _svg(height: float, title: str, body: list[str]) -> str:
    head = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {_num(height)}" width="100%" role="img" '
        f'aria-label="{esc(title)}" {FONT}>'
    )
    return "\n".join([head, f"<title>{esc(title)}</title>", *body, "</svg>"])


def _tip(tip: str | None) -> str:
    return f"<title>{esc(tip)}</title>" if tip else ""


def rect(x: float, y: float, w: float, h: float, fill: str, tip: str | None = None) -> str:
    """A filled rectangle, with a tooltip when ``tip`` is given."""
    box = f'x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" fill="{fill}"'
    return f"<rect {box}>{_tip(tip)}</rect>" if tip else f"<rect {box}/>"


def text(x: float, y: float, content: str, anchor: str = "", tip: str | None = None) -> str:
    """Escaped text at (x, y); ``anchor`` is an SVG text-anchor (``middle``, ``end``)."""
    where = f'x="{_num(x)}" y="{_num(y)}"' + (f' text-anchor="{anchor}"' if anchor else "")
    return f"<text {where}>{esc(content)}{_tip(tip)}</text>"


def line(x1: float, y1: float, x2: float, y2: float) -> str:
    """A thin grey line."""
    ends = f'x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}"'
    return f'<line {ends} stroke="#555"/>'


def _legend(colors: dict[str, str], y: float) -> list[str]:
    out, x = [], float(LABEL_W)
    for name, color in colors.items():
        out += [rect(x, y - 10, 12, 12, color), text(x + 16, y, name)]
        x += 24 + 7.2 * len(name)
    return out


def _label(row_label: str, y: float) -> str:
    return text(4, y + 15, _fit(row_label), tip=row_label)


Runs = list[tuple[int, int, int]]


def _merged(spans: list[tuple[float, float]], t0: float, scale: float) -> Runs:
    """Spans as (first bucket, last bucket, how many findings), touching ones merged."""
    runs: Runs = []
    for first, last in sorted(spans):
        a = min(BUCKETS - 1, max(0, int((first - t0) * scale)))
        b = min(BUCKETS - 1, max(a, int((last - t0) * scale)))
        if runs and a <= runs[-1][1] + 1:
            pa, pb, n = runs[-1]
            runs[-1] = (pa, max(pb, b), n + 1)
        else:
            runs.append((a, b, 1))
    return runs


def timeline(
    rows: Sequence[TimelineRow], t0: float, t1: float, colors: dict[str, str], title: str
) -> str:
    """Findings per device over capture time: one row per device, one lane per kind."""
    shown = list(rows[:MAX_ROWS])
    lane = (ROW_H - 6) / max(len(colors), 1)
    span = max(t1 - t0, 1e-9)
    plot = WIDTH - LABEL_W - RIGHT
    top = 28.0
    body = _legend(colors, 16)
    for i, row in enumerate(shown):
        y = top + i * ROW_H
        body += [rect(0, y, WIDTH, ROW_H, "#f3f3f3")] if i % 2 == 0 else []
        body.append(_label(row.label, y))
        for k, kind in enumerate(colors):
            spans = [(a, b) for name, a, b in row.spans if name == kind]
            for a, b, n in _merged(spans, t0, BUCKETS / span):
                x = LABEL_W + a * plot / BUCKETS
                w = max((b - a + 1) * plot / BUCKETS, MIN_MARK)
                tip = f"{row.label}: {kind}, {n} finding{'s' if n != 1 else ''}"
                body.append(rect(x, y + 3 + k * lane, w, lane, colors[kind], tip))
    bottom = top + len(shown) * ROW_H
    body += _axis(t0, span, bottom, plot)
    return _svg(_more(body, len(rows) - len(shown), bottom + 34), title, body)


def _more(body: list[str], more: int, height: float) -> float:
    """Say how many rows were left out; the chart's height with that line."""
    if more <= 0:
        return height
    body.append(text(4, height + 4, f"{more:,} more not drawn"))
    return height + 12


def _axis(t0: float, span: float, y: float, plot: float) -> list[str]:
    step = tick_step(span)
    out = [line(LABEL_W, y, WIDTH - RIGHT, y), text(4, y + 18, "time (UTC)")]
    tick = math.ceil(t0 / step) * step
    while tick <= t0 + span + 1e-9:
        x = LABEL_W + (tick - t0) / span * plot
        out += [line(x, y, x, y + 5), text(x, y + 18, tick_label(tick, span), "middle")]
        tick += step
    return out


def bars(rows: Sequence[BarRow], colors: dict[str, str], title: str) -> str:
    """Horizontal stacked bars, one per row, scaled to the largest total."""
    shown = list(rows[:MAX_ROWS])
    largest = max((sum(r.parts.values()) for r in shown), default=0) or 1
    plot = (WIDTH - LABEL_W - RIGHT) * 0.62  # room for the note after the longest bar
    top = 28.0
    body = _legend(colors, 16)
    for i, row in enumerate(shown):
        y = top + i * ROW_H
        body.append(_label(row.label, y))
        x = float(LABEL_W)
        for part, size in row.parts.items():
            if size > 0 and part in colors:
                w = max(size / largest * plot, 2.0)
                tip = f"{row.label}: {part} {size:,} B"
                body.append(rect(x, y + 4, w, ROW_H - 8, colors[part], tip))
                x += w
        body.append(text(x + 6, y + 15, row.note))
    height = top + len(shown) * ROW_H + 8
    return _svg(_more(body, len(rows) - len(shown), height), title, body)
