"""Turn one counters snapshot into (metric, labels, value) samples, in catalog order."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from monitor import metrics as m
from monitor.counters import Snapshot

LabelPairs = tuple[tuple[str, str], ...]
Sample = tuple[m.MetricSpec, LabelPairs, float]

# Keyed Counters fields, in monitor.metrics.ALL_METRICS order. Keys are the label values
# after ``site`` (a bare string when the metric has one such label).
_KEYED: tuple[tuple[m.MetricSpec, str], ...] = (
    (m.PACKETS, "packets"),
    (m.BYTES, "bytes"),
    (m.FLOWS, "flows"),
    (m.FINDINGS, "findings"),
    (m.ENDPOINT_CONTACTS, "endpoint_contacts"),
    (m.DEVICES, "devices"),
    (m.DEVICE_LAST_SEEN, "device_last_seen"),
    (m.CAPTURE_PACKETS, "capture_packets"),
    (m.CAPTURE_DROPPED, "capture_dropped"),
    (m.CAPTURE_UP, "capture_up"),
)


def iter_samples(snapshot: Snapshot, *, site: str | None = None) -> Iterator[Sample]:
    """Every sample a snapshot holds, families in ``ALL_METRICS`` order, ``site`` first.

    ``site`` overrides ``snapshot.site``. Label values are plain strings (``None`` in a
    key becomes ``""``); values are floats. Series within a family come in key order.
    """
    site_value = snapshot.site if site is None else site
    c = snapshot.counters
    for spec, attr in _KEYED:
        yield from _keyed(spec, site_value, getattr(c, attr))
    yield m.FLOW_TABLE_ENTRIES, (("site", site_value),), float(c.flow_table_entries)
    yield m.FLOW_TABLE_EVICTIONS, (("site", site_value),), float(c.flow_table_evictions)
    if c.last_packet_ts is not None:
        yield m.LAST_PACKET, (("site", site_value),), float(c.last_packet_ts)
    yield from _keyed(m.DECODE_ERRORS, site_value, c.decode_errors)
    yield m.DEVICES_OVERFLOW, (("site", site_value),), float(c.devices_overflow)


def _keyed(spec: m.MetricSpec, site: str, values: Mapping[Any, float]) -> Iterator[Sample]:
    for key, value in values.items():
        yield spec, label_pairs(spec, site, key), float(value)


def label_pairs(spec: m.MetricSpec, site: str, key: object) -> LabelPairs:
    """``(name, value)`` pairs for ``spec``: ``site`` then the key's values, in order.

    Raises ``ValueError`` when the key does not have one value per non-site label.
    """
    values = key if isinstance(key, tuple) else (key,)
    names = spec.labels[1:]
    if len(values) != len(names):
        raise ValueError(f"{spec.name}: key {key!r} does not match labels {names!r}")
    pairs = ((n, "" if v is None else str(v)) for n, v in zip(names, values, strict=True))
    return (("site", site), *pairs)
