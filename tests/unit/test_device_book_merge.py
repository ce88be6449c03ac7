"""Merging the device books and facts of replay partitions into the one a process keeps."""

from __future__ import annotations

import dataclasses

from monitor.classify.catalog import load_catalog
from monitor.classify.device_book_merge import finding_device, merge_books, merge_prints
from monitor.classify.devices import OTHER_LABEL, DeviceBook
from monitor.classify.distinct import DistinctCount
from monitor.classify.fingerprint import MAX_PEERS, Fingerprinter, HostFacts
from monitor.config import Policy, default_policy
from monitor.config.policy import Limits
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


def _limited(devices: int) -> Policy:
    return dataclasses.replace(default_policy(), limits=Limits(devices=devices))


def test_the_device_limit_keeps_the_hosts_first_seen_over_all_partitions() -> None:
    policy = _limited(1)
    late, early = DeviceBook(policy, load_catalog(), 1), DeviceBook(policy, load_catalog(), 1)
    b = late.get("10.20.1.12")  # partition 0 kept it, but it spoke at t=200
    b.packets, b.first_ts, b.last_ts = 5, 200.0, 201.0
    a = early.get(CAM)  # partition 1's host spoke first
    a.packets, a.first_ts, a.last_ts = 7, 100.0, 101.0
    merged = merge_books([late, early], policy, load_catalog())
    assert set(merged.devices) == {CAM, OTHER_LABEL}
    assert merged.devices[OTHER_LABEL].packets == 5 and merged.overflow.count() == 1
    device = finding_device(merged)
    assert device("10.20.1.12") == OTHER_LABEL  # its findings fold into "other"
    assert device(CAM) == CAM
    assert device("198.51.100.7") == "198.51.100.7"  # an outside peer is never a device
    assert device("239.255.255.250") == "239.255.255.250"  # nor a multicast group
    assert device("front-door") == "front-door"  # an inventory name stays


def test_hosts_silent_in_every_partition_stay_silent_hosts() -> None:
    one, two = _book(), _book()
    for book, packets in ((one, 1), (two, 2)):
        quiet = book.traffic("10.20.7.7", sent=0)
        assert quiet is not None
        quiet.packets = packets
    merged = merge_books([one, two], default_policy(), load_catalog())
    assert "10.20.7.7" not in merged.devices
    assert merged.silent["10.20.7.7"].packets == 3


def test_facts_union_keeps_bounds_and_the_first_address() -> None:
    catalog = load_catalog()
    a, b = Fingerprinter(catalog), Fingerprinter(catalog)
    a.dropped, b.dropped = 2, 3
    mac = "44:19:b6:00:00:09"
    fa, fb = a.macs.setdefault(mac, HostFacts()), b.macs.setdefault(mac, HostFacts())
    fa.address, fb.address = "10.20.1.9", "10.20.1.99"
    fa.asked.add((53, "udp"))
    fb.asked.add((5353, "udp"))
    fa.rtsp_clients.update(f"10.20.9.{i}" for i in range(MAX_PEERS - 1))
    fb.rtsp_clients.update(f"10.20.8.{i}" for i in range(5))
    merged = merge_prints([a, b], catalog)
    facts = merged.macs[mac]
    assert facts.address == "10.20.1.9"  # the first partition's, as its DHCP came first
    assert facts.asked == {(53, "udp"), (5353, "udp")}
    assert len(facts.rtsp_clients) == MAX_PEERS  # bounded as one process bounds it
    assert merged.dropped == 5
