"""Render a PNG of the main panels of each dashboard from a real Prometheus's answers.

Replays ``pcaps/demo_day.pcap.gz`` with ``--metrics-out`` (a sample every 15 s of packet
time), backfills it with promtool, starts ``prometheus`` on loopback over that TSDB (see
``dashboards/promlab.py``), runs the panels' own queries (Grafana variables substituted)
over the capture's time range and draws them with matplotlib: titles from the panels, y-axis
units from the panel units, legends from the panels' legend formats, time axis in UTC.

    python dashboards/render_previews.py      # writes docs/img/cctv-overview.png, cctv-device.png

Needs ``prometheus`` and ``promtool`` (Debian package ``prometheus``) and matplotlib (``dev``
extra).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import promlab
from matplotlib import dates as mdates
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

OUT_DIR = promlab.ROOT / "docs" / "img"
STEP = 15.0
SITE = "demo-hansaplatz"
DEVICE = "cam-hansa-02"  # its egress and vendor-cloud flows span several samples
# The main panels of each dashboard, by panel id, in drawing order (two per row).
MAIN_PANELS: dict[str, list[int]] = {
    # new findings, bytes sent outside by device, vendor endpoints, traffic by verdict,
    # devices by vendor and role, flow-table entries
    "cctv-overview": [3, 5, 8, 10, 9, 19],
    # bytes by verdict/direction, boundary bytes, flows by verdict, new findings,
    # findings since start, last seen
    "cctv-device": [5, 6, 7, 8, 3, 2],
}
DPI = 100
# Grafana's classic palette.
COLORS = [
    "#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1",
    "#BA43A9", "#705DA0", "#508642", "#CCA300", "#447EBC", "#C15C17",
]  # fmt: skip


def _short(value: float, _pos: object = None) -> str:
    """Grafana's ``short``: plain below 1000, then k, M, G."""
    for factor, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def _formatter(unit: str) -> ticker.Formatter:
    """The axis tick format of a Grafana unit."""
    eng: dict[str, str] = {"Bps": "B/s", "bytes": "B", "pps": "p/s", "s": "s"}
    if unit in eng:
        return ticker.EngFormatter(unit=eng[unit], sep=" ")
    if unit == "percentunit":
        return ticker.PercentFormatter(1.0)
    return ticker.FuncFormatter(_short)


UNIT_LABELS = {
    "Bps": "bytes/s",
    "bytes": "bytes",
    "pps": "packets/s",
    "short": "count",
    "s": "seconds",
    "percentunit": "ratio",
}


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _points(series: Mapping[str, Any]) -> tuple[list[datetime], list[float]]:
    values = [(float(t), float(v)) for t, v in series["values"]]
    return [_when(t) for t, _ in values], [v for _, v in values]


def _last(series: Mapping[str, Any]) -> float:
    return float(series["values"][-1][1]) if series["values"] else math.nan


def _time_axis(ax: Axes, start: float, end: float) -> None:
    ax.set_xlim(_when(start), _when(end))
    ax.xaxis.set_major_locator(mdates.MinuteLocator(tz=UTC))
    ax.xaxis.set_minor_locator(mdates.SecondLocator(bysecond=[15, 30, 45], tz=UTC))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    ax.set_xlabel(f"{_when(start):%Y-%m-%d}, UTC", fontsize=8, loc="right")


def _legend(ax: Axes, names: Sequence[str]) -> None:
    """Below the plot, as Grafana places it, in as many columns as fit the panel's width."""
    if names:
        width = max(len(n) for n in names) * 4.6 + 30  # pixels at 7.5 pt
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(0.0, -0.16),
            ncol=max(1, min(4, int(620 // width))),
            fontsize=7.5,
            frameon=False,
            borderaxespad=0.0,
            handlelength=1.5,
        )


def draw_timeseries(
    ax: Axes,
    tgt: promlab.PanelTarget,
    result: list[dict[str, Any]],
    start: float,
    end: float,
    *,
    bars: bool,
) -> None:
    """Lines, or grouped bars per step for counts per interval."""
    width = STEP / 86400 / max(len(result), 1) * 0.9
    names = [promlab.legend(tgt.legend, series["metric"]) for series in result]
    for i, (series, name) in enumerate(zip(result, names, strict=True)):
        when, values = _points(series)
        color = COLORS[i % len(COLORS)]
        if bars:
            shifted = [mdates.date2num(w) + (i - len(result) / 2) * width for w in when]
            ax.bar(shifted, values, width=width, color=color, label=name, align="edge")
        else:
            ax.plot(when, values, color=color, linewidth=1.4, label=name)
            ax.fill_between(when, values, color=color, alpha=0.08)
    _time_axis(ax, start, end)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(_formatter(tgt.unit))
    ax.set_ylabel(UNIT_LABELS.get(tgt.unit, tgt.unit), fontsize=8)
    _legend(ax, names)


def draw_last_values(
    ax: Axes, tgt: promlab.PanelTarget, result: list[dict[str, Any]], red_from: float | None
) -> None:
    """Stat, table and bar-gauge panels: one horizontal bar per series, its last value."""
    rows = []
    for series in result:
        labels = series["metric"]
        if tgt.legend in ("", "__auto"):  # tables: the label values without the site
            name = " / ".join(v for k, v in sorted(labels.items()) if k not in ("site",))
        else:
            name = promlab.legend(tgt.legend, labels)
        rows.append((name, _last(series)))
    rows.sort(key=lambda row: row[1])
    names = [n for n, _ in rows]
    values = [v for _, v in rows]
    colors = ["#E24D42" if red_from is not None and v >= red_from else "#7EB26D" for v in values]
    ax.barh(names, values, color=colors)
    for y, v in enumerate(values):
        ax.annotate(
            _formatter(tgt.unit)(v),
            (v, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.xaxis.set_major_formatter(_formatter(tgt.unit))
    ax.set_xlabel(f"{UNIT_LABELS.get(tgt.unit, tgt.unit)}, at the end of the range", fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlim(0, max(values, default=1) * 1.15 or 1)


def draw_timestamp(ax: Axes, result: list[dict[str, Any]], end: float) -> None:
    """A ``dateTimeFromNow`` stat (milliseconds): the time, and how long before ``end``."""
    ax.axis("off")
    if not result:
        ax.text(0.5, 0.5, "No data", ha="center", va="center", fontsize=16)
        return
    when = _last(result[0]) / 1000
    stamp = f"{_when(when):%Y-%m-%d %H:%M:%S} UTC"
    ago = f"{end - when:.0f} s before the end of the shown range"
    ax.text(0.5, 0.6, stamp, ha="center", va="center", fontsize=18, color="#1F78C1")
    ax.text(0.5, 0.35, ago, ha="center", va="center", fontsize=10)


def _red_from(panel: Mapping[str, Any]) -> float | None:
    steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps")
    reds = [s["value"] for s in steps or [] if s.get("color") == "red" and s["value"] is not None]
    return float(reds[0]) if reds else None


def render(
    name: str,
    url: str,
    start: float,
    end: float,
    variables: Mapping[str, str],
    out: Path,
) -> Path:
    """Draw the main panels of dashboard ``name`` into ``out``."""
    board = promlab.load_dashboard(name)
    panels = {p["id"]: p for p in board["panels"]}
    targets = {t.panel_id: t for t in promlab.panel_targets(board, variables)}
    ids = MAIN_PANELS[name]
    rows = math.ceil(len(ids) / 2)
    fig = Figure(figsize=(15, 4.4 * rows + 0.6), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, 2, squeeze=False).flatten()
    for ax, pid in zip(axes, ids, strict=False):
        panel, tgt = panels[pid], targets[pid]
        result = promlab.query_range(url, tgt.expr, start, end, STEP)
        ax.set_title(tgt.title, fontsize=11, loc="left", fontweight="bold")
        ax.grid(alpha=0.3)
        if tgt.unit == "dateTimeFromNow":
            draw_timestamp(ax, result, end)
        elif tgt.panel_type == "timeseries":
            bars = panel["fieldConfig"]["defaults"]["custom"]["drawStyle"] == "bars"
            draw_timeseries(ax, tgt, result, start, end, bars=bars)
        else:
            draw_last_values(ax, tgt, result, _red_from(panel))
    for ax in axes[len(ids) :]:
        ax.axis("off")
    scope = f"site {variables['site']}" + (
        f", device {variables['device']}" if name == "cctv-device" else ""
    )
    fig.suptitle(
        f"{board['title']} — {scope}: pcaps/demo_day.pcap.gz replayed, backfilled into "
        "Prometheus, the panels' own queries",
        fontsize=12,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, metadata={"Software": None})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where the PNGs go")
    parser.add_argument("--device", default=DEVICE, help="device of the device dashboard")
    args = parser.parse_args(argv)
    prometheus, promtool = promlab.tool("prometheus"), promlab.tool("promtool")
    if prometheus is None or promtool is None:
        print("needs prometheus and promtool (Debian package 'prometheus')", file=sys.stderr)
        return 2
    variables = {
        "site": SITE,
        "device": args.device,
        "__rate_interval": "1m",  # >= 4 sample spacings, as Grafana computes it
        "__interval": f"{STEP:g}s",
    }
    with tempfile.TemporaryDirectory(prefix="render-previews-") as tmp:
        backfill = promlab.replay_to_tsdb(
            promlab.DEMO_PCAP, promlab.SITE_CONFIG, Path(tmp), interval=STEP, promtool=promtool
        )
        start, end = backfill.first_ts, backfill.last_ts + 60
        with promlab.start_prometheus(backfill.tsdb, prometheus=prometheus) as url:
            for name in MAIN_PANELS:
                path = render(name, url, start, end, variables, args.out_dir / f"{name}.png")
                shown = (
                    path.relative_to(promlab.ROOT) if path.is_relative_to(promlab.ROOT) else path
                )
                print(shown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
