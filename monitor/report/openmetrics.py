"""OpenMetrics text of counter snapshots over packet time, for promtool backfilling."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TextIO

from monitor.counters import Snapshot
from monitor.metrics import REPLAY_METRICS, MetricSpec
from monitor.snapshot_samples import LabelPairs, iter_samples

# series label pairs -> {timestamp in ms: value}; one per family name
_Series = dict[LabelPairs, dict[int, float]]


def write_openmetrics(snapshots: list[Snapshot], site: str, fp: TextIO) -> None:
    """Write every snapshot as timestamped samples, families in catalog order, then ``# EOF``.

    Snapshots without a timestamp are skipped. Timestamps are packet time in seconds at
    millisecond resolution (what Prometheus stores); when two snapshots fall in the same
    millisecond the later one wins, so no series repeats a timestamp.
    """
    families = _collect(snapshots, site)
    for spec in REPLAY_METRICS:
        _write_family(fp, spec, families.get(spec.name, {}))
    fp.write("# EOF\n")


def _collect(snapshots: Iterable[Snapshot], site: str) -> dict[str, _Series]:
    """Samples per family and series. A counter series that appears with a value gets a
    0 sample at the previous snapshot (or 1 ms before the first), as it had no events
    before: without it, rate() and increase() never see a short flow's bytes."""
    timed = sorted(((s.ts, s) for s in snapshots if s.ts is not None), key=lambda p: p[0])
    families: dict[str, _Series] = {}
    previous_ms: int | None = None
    for ts, snap in timed:
        ts_ms = round(float(ts) * 1000)
        for spec, labels, value in iter_samples(snap, site=site):
            series = families.setdefault(spec.name, {}).setdefault(labels, {})
            if not series and spec.kind == "counter" and value:
                born = previous_ms if previous_ms is not None and previous_ms < ts_ms else ts_ms - 1
                series[born] = 0.0
            series[ts_ms] = value
        previous_ms = ts_ms
    return families


def _write_family(fp: TextIO, spec: MetricSpec, series: _Series) -> None:
    family = family_name(spec)
    fp.write(f"# HELP {family} {escape(spec.help)}\n")
    fp.write(f"# TYPE {family} {spec.kind}\n")
    for labels in sorted(series):
        label_text = ",".join(f'{name}="{escape(value)}"' for name, value in labels)
        head = f"{spec.name}{{{label_text}}}"
        for ts_ms, value in sorted(series[labels].items()):
            fp.write(f"{head} {format_value(value)} {_format_ts(ts_ms)}\n")


def family_name(spec: MetricSpec) -> str:
    """The name HELP/TYPE lines use: counters drop their ``_total`` sample suffix."""
    if spec.kind == "counter" and spec.name.endswith("_total"):
        return spec.name[: -len("_total")]
    return spec.name


def escape(text: str) -> str:
    r"""Escape a label value or help text: backslash, double quote and newline."""
    return text.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def format_value(value: float) -> str:
    """A sample value: integers without a fraction, NaN and infinities spelled out."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _format_ts(ts_ms: int) -> str:
    return f"{ts_ms / 1000:.3f}"
