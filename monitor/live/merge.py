"""Merging the snapshots of several capture workers into the one the exporter shows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from monitor.classify.devices import UNKNOWN, DeviceBook
from monitor.counters import Counters, Snapshot

# Counters fields that add up across workers (each worker sees its own share of flows).
_SUMMED = (
    "packets",
    "bytes",
    "flows",
    "findings",
    "endpoint_contacts",
    "devices",
    "capture_packets",
    "capture_dropped",
    "decode_errors",
)
DeviceRole = tuple[str, str]  # (vendor, role) label values of cctv_devices
DeviceSighting = tuple[str, DeviceRole]  # (ip, (vendor, role))


def merge_snapshots(snapshots: Sequence[Snapshot], site: str) -> Snapshot:
    """One snapshot from many: counters summed, timestamps and last-seen maxed.

    Flow-table entries and evictions add up (each worker has its own table).
    ``capture_up`` is left empty: it is decided at scrape time from capture health.
    ``devices`` is summed here; :func:`with_devices` replaces it with a count per host
    (an inventory device appears in every worker's book).
    """
    out = Counters()
    ts: float | None = None
    for snap in snapshots:
        c = snap.counters
        for name in _SUMMED:
            getattr(out, name).update(getattr(c, name))
        for device, seen in c.device_last_seen.items():
            if seen > out.device_last_seen.get(device, 0.0):
                out.device_last_seen[device] = seen
        out.flow_table_entries += c.flow_table_entries
        out.flow_table_evictions += c.flow_table_evictions
        out.devices_overflow += c.devices_overflow  # a host can overflow on two workers
        out.last_packet_ts = _newest(out.last_packet_ts, c.last_packet_ts)
        ts = _newest(ts, snap.ts)
    return Snapshot(site=site, ts=ts, counters=out)


def _newest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def with_devices(snapshot: Snapshot, roles: dict[str, DeviceRole]) -> Snapshot:
    """``snapshot`` with ``cctv_devices`` counted once per host over all workers' reports."""
    counters = replace(snapshot.counters, devices=Counter(roles.values()))
    return replace(snapshot, counters=counters)


def new_sightings(book: DeviceBook, reported: dict[str, DeviceRole]) -> list[DeviceSighting]:
    """Hosts of ``book`` whose (vendor, role) ``reported`` does not hold yet; updates it.

    The book's vendor and role may come from the inventory, the MAC's OUI or traffic
    fingerprints, and may change as facts arrive: a host is reported again when they do.
    """
    fresh: list[DeviceSighting] = []
    for ip, dev in book.counted():
        role = (dev.vendor or UNKNOWN, dev.role or UNKNOWN)
        if reported.get(ip) != role:
            reported[ip] = role
            fresh.append((ip, role))
    return fresh


def record_sightings(roles: dict[str, DeviceRole], sightings: Sequence[DeviceSighting]) -> None:
    """Take a worker's reports into the parent's view of the devices (newest report wins)."""
    for ip, role in sightings:
        roles[ip] = role
