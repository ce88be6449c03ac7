"""Merging the snapshots of several capture workers, and capture health across them."""

from __future__ import annotations

from pathlib import Path

from monitor.classify.catalog import load_catalog
from monitor.classify.devices import DeviceBook
from monitor.config import load_policy
from monitor.counters import Counters, Snapshot
from monitor.live.health import CaptureStatus, combine
from monitor.live.merge import merge_snapshots, new_sightings, record_sightings, with_devices

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"


def worker(n: int, last_ts: float, seen: dict[str, float]) -> Snapshot:
    c = Counters()
    c.packets[("cam-01", "hikvision", "internal")] = 10 * n
    c.bytes[("cam-01", "hikvision", "internal", "out")] = 1000 * n
    c.flows[("cam-01", "hikvision", "internal")] = n
    c.findings[(f"cam-0{n}", "hikvision", "egress")] = 1
    c.capture_packets["eth1"] = 100 * n
    c.capture_dropped[("eth1", "kernel")] = n
    c.device_last_seen.update(seen)
    c.flow_table_entries = 5 * n
    c.flow_table_evictions = n
    c.last_packet_ts = last_ts
    c.decode_errors["ip"] = n
    return Snapshot(site="x", ts=last_ts, counters=c)


def test_counters_sum_timestamps_max() -> None:
    a = worker(1, 100.0, {"cam-01": 90.0, "cam-02": 50.0})
    b = worker(2, 120.0, {"cam-01": 80.0})
    c = worker(3, 110.0, {"cam-03": 70.0})
    merged = merge_snapshots([a, b, c], "site-a")
    m = merged.counters
    assert merged.site == "site-a" and merged.ts == 120.0
    assert m.packets[("cam-01", "hikvision", "internal")] == 60
    assert m.bytes[("cam-01", "hikvision", "internal", "out")] == 6000
    assert m.flows[("cam-01", "hikvision", "internal")] == 6
    assert {k[0]: v for k, v in m.findings.items()} == {"cam-01": 1, "cam-02": 1, "cam-03": 1}
    assert m.capture_packets["eth1"] == 600
    assert m.capture_dropped[("eth1", "kernel")] == 6
    assert m.device_last_seen == {"cam-01": 90.0, "cam-02": 50.0, "cam-03": 70.0}
    assert m.flow_table_entries == 30 and m.flow_table_evictions == 6
    assert m.last_packet_ts == 120.0
    assert m.decode_errors["ip"] == 6
    assert a.counters.packets[("cam-01", "hikvision", "internal")] == 10, "inputs untouched"


def test_merge_of_nothing_and_of_idle_workers() -> None:
    assert merge_snapshots([], "s").counters.last_packet_ts is None
    idle = Snapshot("s", None, Counters())
    assert merge_snapshots([idle, worker(1, 5.0, {})], "s").ts == 5.0


def test_devices_counted_once_per_host_across_workers() -> None:
    policy = load_policy(PCAPS / "site.yaml")
    catalog = load_catalog()
    books = [DeviceBook(policy, catalog), DeviceBook(policy, catalog)]
    books[0].learn_mac("10.20.9.9", "44:19:b6:00:00:01")  # a Hikvision OUI, not in inventory
    books[1].get("10.20.9.10")
    roles: dict[str, tuple[str, str]] = {}
    reported: list[dict[str, tuple[str, str]]] = [{}, {}]
    snaps = [Snapshot("s", 1.0, Counters()) for _ in books]
    for book, seen, snap in zip(books, reported, snaps, strict=True):
        snap.counters.devices.update(book.role_counts())  # as Pipeline.snapshot does
        record_sightings(roles, new_sightings(book, seen))
        assert new_sightings(book, seen) == [], "each host is reported once"
    summed = merge_snapshots(snaps, "s").counters.devices
    merged = with_devices(merge_snapshots(snaps, "s"), roles).counters.devices
    inventory = len(policy.devices)
    assert sum(summed.values()) == 2 * inventory + 2, "inventory counted by every worker"
    assert sum(merged.values()) == inventory + 2
    assert merged[("hikvision", "unknown")] == 1  # vendor learnt from the MAC a worker saw
    books[1].devices["10.20.9.10"].role = "camera"  # a fingerprint decided later
    record_sightings(roles, new_sightings(books[1], reported[1]))
    assert with_devices(snaps[0], roles).counters.devices[("unknown", "camera")] == 1


def test_capture_status_up_and_combine() -> None:
    assert not CaptureStatus().up(100.0)
    assert CaptureStatus(True, opened_at=100.0).up(150.0, stale_after=60)
    assert not CaptureStatus(True, opened_at=100.0).up(161.0, stale_after=60)
    assert CaptureStatus(True, 100.0, last_rx=150.0).up(200.0, stale_after=60)
    assert not CaptureStatus(False, 100.0, last_rx=150.0).up(151.0)
    both = combine([CaptureStatus(True, 10.0, 50.0), CaptureStatus(True, 20.0, None)])
    assert both == CaptureStatus(True, 20.0, 50.0)
    assert not combine([CaptureStatus(True, 10.0, 50.0), CaptureStatus(False, 10.0, 60.0)]).open
    assert combine([]) == CaptureStatus()
