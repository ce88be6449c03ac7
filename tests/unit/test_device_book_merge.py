"""Merging the device books and facts of replay partitions into the one a process keeps."""

from __future__ import annotations

from monitor.classify.catalog import load_catalog
from monitor.classify.device_book_merge import merge_books, merge_prints
from monitor.classify.devices import DeviceBook
from monitor.classify.distinct import DistinctCount
from monitor.classify.fingerprint import Fingerprinter, HostFacts
from monitor.config import default_policy
from monitor.model import DeviceFact

CAM, NVR = "10.20.1.11", "10.20.9.1"
HIK_MAC, DAHUA_MAC = "44:19:b6:00:00:01", "3c:ef:8c:00:00:01"


def _book() -> DeviceBook:
    return DeviceBook(default_policy(), load_catalog())


def test_a_host_silent_in_one_partition_and_speaking_in_another_is_one_device() -> None:
    quiet, speaking = _book(), _book()
    q = quiet.traffic(CAM, sent=0)  # only ever a destination there: a silent host
    assert q is not None and CAM in quiet.silent
    q.packets, q.bytes, q.flows = 2, 120, 1
    s = speaking.get(CAM)
    s.packets, s.bytes, s.flows = 10, 5000, 3
    merged = merge_books([quiet, speaking], default_policy(), load_catalog())
    assert CAM not in merged.silent
    dev = merged.devices[CAM]
    assert (dev.packets, dev.bytes, dev.flows) == (12, 5120, 4)


def test_the_mac_learned_first_in_packet_time_wins_whichever_partition_saw_it() -> None:
    early, late = _book(), _book()
    late.learn_mac(CAM, DAHUA_MAC, ts=200.0)  # partition 0 saw it second
    early.learn_mac(CAM, HIK_MAC, ts=100.0)
    merged = merge_books([late, early], default_policy(), load_catalog())
    assert merged.devices[CAM].mac == HIK_MAC
    assert merged.devices[CAM].vendor == "hikvision"  # from the OUI, as one process does
    assert merged.macs_learned[CAM] == (100.0, HIK_MAC)


def test_facts_are_the_union_of_the_partitions() -> None:
    catalog = load_catalog()
    a, b = Fingerprinter(catalog), Fingerprinter(catalog)
    fa = a.hosts.setdefault(NVR, HostFacts())
    fa.add([DeviceFact("role", "recorder", "pulls RTSP from 3 cameras", "medium")])
    fa.services.add((554, "tcp"))
    fb = b.hosts.setdefault(NVR, HostFacts())
    fb.add([DeviceFact("vendor", "hikvision", "Server: Hikvision-Webs", "high")])
    fb.services.add((80, "tcp"))
    merged = merge_prints([a, b], catalog)
    facts = merged.hosts[NVR]
    assert {f.fact for f in facts.facts.values()} == {"role", "vendor"}
    assert facts.services == {(554, "tcp"), (80, "tcp")}
    assert NVR in merged.changed  # the merged book resolves it once


def test_distinct_counts_merge_exactly_and_as_sketches() -> None:
    a, b = DistinctCount(limit=100), DistinctCount(limit=100)
    a.add_many(range(60))
    b.add_many(range(40, 90))
    a.update(b)
    assert a.exact and a.count() == 90
    big = DistinctCount(limit=100)
    big.add_many(range(1000, 6000))
    a.update(big)  # past the limit: a sketch, within a few per cent
    assert not a.exact and abs(a.count() - 5090) < 5090 * 0.05
