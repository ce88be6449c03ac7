"""What the live sensor must report for a capture: the replay of the same frames, same order."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from monitor import metrics as m
from monitor.capture.offline import OfflineSource
from monitor.capture.writer import PcapWriter
from monitor.classify.catalog import load_catalog
from monitor.config import load_policy
from monitor.counters import Counters
from monitor.replay import run_replay

from .netns import Series

GAP_SECONDS = 1.0
# (metric, Counters attribute): the counters live and replay must agree on.
COMPARED = (
    (m.PACKETS, "packets"),
    (m.BYTES, "bytes"),
    (m.FLOWS, "flows"),
    (m.FINDINGS, "findings"),
    (m.ENDPOINT_CONTACTS, "endpoint_contacts"),
)
Keyed = dict[tuple[str, ...], float]


def sequential_capture(paths: Sequence[Path], out: Path) -> int:
    """Write ``paths`` one after the other into one pcap, each shifted to start after the last.

    That is what the sensor sees when tcpreplay sends the files in sequence (with new
    timestamps): the replay of this file is the live sensor's expected result. The
    sample captures all start at the same instant, so replaying them together unshifted
    would interleave them. Returns the number of frames.
    """
    cursor: float | None = None
    frames = 0
    with PcapWriter(out, 1) as writer:
        for path in paths:
            batches = list(OfflineSource([str(path)]).batches())
            first = min(float(b.ts.min()) for b in batches)
            shift = 0.0 if cursor is None else cursor - first
            for b in batches:
                writer.write_batch(dataclasses.replace(b, ts=b.ts + shift))
                frames += len(b)
            cursor = max(float(b.ts.max()) for b in batches) + shift + GAP_SECONDS
    return frames


def replay_counters(pcap: Path, policy_path: Path) -> Counters:
    """The counters a replay of ``pcap`` under the policy ends with (gauges included)."""
    run = run_replay([str(pcap)], load_policy(policy_path), load_catalog())
    return run.pipeline.snapshot().counters


def keyed_from_counters(counters: Counters, attr: str) -> Keyed:
    """A Counters field without zero entries, label values as strings."""
    field = getattr(counters, attr)
    return {tuple(str(v) for v in k): float(n) for k, n in field.items() if n}


def keyed_from_scrape(series: Series, spec: m.MetricSpec) -> Keyed:
    """Scraped samples of ``spec`` keyed like Counters (label values after ``site``)."""
    out: Keyed = {}
    for labels, value in series.items():
        d = dict(labels)
        if value:
            out[tuple(d[n] for n in spec.labels[1:])] = value
    return out


def by(keyed: Keyed, index: int) -> dict[str, float]:
    """Totals by one label position (e.g. verdict, kind)."""
    out: dict[str, float] = {}
    for key, value in keyed.items():
        out[key[index]] = out.get(key[index], 0.0) + value
    return out
