"""Plain-int counters the pipeline updates per batch, and the snapshots sinks read.

No prometheus_client here: the exporter and the OpenMetrics writer turn a
:class:`Snapshot` into text at scrape or write time.
"""

from __future__ import annotations

import copy
from collections import Counter as _Tally
from dataclasses import dataclass, field

Labels = tuple[str, ...]


@dataclass(slots=True)
class Counters:
    """Every number the metrics show, keyed by label values (without ``site``).

    Keys follow the label order of :mod:`monitor.metrics` minus the leading ``site``.
    """

    packets: _Tally[Labels] = field(default_factory=_Tally)  # device, vendor, verdict
    bytes: _Tally[Labels] = field(default_factory=_Tally)  # device, vendor, verdict, direction
    flows: _Tally[Labels] = field(default_factory=_Tally)  # device, vendor, verdict
    findings: _Tally[Labels] = field(default_factory=_Tally)  # device, vendor, kind
    endpoint_contacts: _Tally[Labels] = field(default_factory=_Tally)  # vendor, endpoint
    devices: _Tally[Labels] = field(default_factory=_Tally)  # vendor, role (a gauge)
    device_last_seen: dict[str, float] = field(default_factory=dict)  # device -> ts
    capture_packets: _Tally[str] = field(default_factory=_Tally)  # interface
    capture_dropped: _Tally[Labels] = field(default_factory=_Tally)  # interface, where
    capture_up: dict[str, int] = field(default_factory=dict)  # interface -> 0/1
    decode_errors: _Tally[str] = field(default_factory=_Tally)  # layer
    flow_table_entries: int = 0
    flow_table_evictions: int = 0
    devices_overflow: int = 0  # hosts beyond the device limit, counted under "other"
    last_packet_ts: float | None = None

    def snapshot(self, ts: float | None = None) -> Snapshot:
        """A frozen deep copy, stamped with packet time ``ts``."""
        return Snapshot(site="", ts=ts, counters=copy.deepcopy(self))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Counters as they stood at packet time ``ts``; ``site`` is filled by the pipeline."""

    site: str
    ts: float | None
    counters: Counters
