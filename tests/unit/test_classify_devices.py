"""Devices as people think of them, through the packet path (full and light flows alike):
multicast groups and broadcast addresses are no devices; hosts only ever seen as
destinations are silent hosts, listed apart; one host at several addresses is one device."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import numpy as np
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from monitor.classify.catalog import load_catalog
from monitor.classify.devices import OTHER_LABEL, SILENT_LABEL, DeviceBook
from monitor.config import DeviceEntry, Limits, Policy, default_policy
from monitor.counters import Counters
from monitor.model import DeviceSummary
from monitor.pipeline import Pipeline, PipelineSettings
from tests.framebuild import batch_of

T0 = 1.7e9
CAM, CAM_MAC = "10.20.1.11", "44:19:b6:3c:5e:11"
GW_MAC = "00:20:00:00:00:01"
SCANNER = "198.51.100.7"
DNS, DNS6 = "10.20.0.53", "fd20::53"
FLOWS = pytest.mark.parametrize("light", [False, True], ids=["flowstate", "light"])


def site(*devices: DeviceEntry, limit: int = 1024) -> Policy:
    nets = tuple(ipaddress.ip_network(n) for n in ("10.20.0.0/16", "fd20::/64"))
    return Policy("s", nets, devices=devices, limits=Limits(devices=limit))


def frame(src: str, dst: str, l4: Packet, mac: str = CAM_MAC) -> Packet:
    ip = IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst)
    return Ether(src=mac, dst=GW_MAC) / ip / l4


def udp(src: str, dst: str, dport: int, mac: str = CAM_MAC, sport: int = 40000) -> Packet:
    return frame(src, dst, UDP(sport=sport, dport=dport) / b"hello", mac)


def syn(src: str, dst: str, dport: int = 23, mac: str = GW_MAC) -> Packet:
    return frame(src, dst, TCP(sport=50000, dport=dport, flags="S"), mac)


def replay(batches: Sequence[Sequence[Packet]], policy: Policy, light: bool) -> Pipeline:
    """Each batch 3 s of packet time after the last (flows settle in between)."""
    pipe = Pipeline(policy, load_catalog(), PipelineSettings(light_flows=light))
    for n, frames in enumerate(batches):
        start = T0 + 3.0 * n
        pipe.process(batch_of(list(frames), [start + i * 1e-3 for i in range(len(frames))]))
    pipe.finish()
    return pipe


def device_labels(counters: Counters) -> set[str]:
    keys = [*counters.packets, *counters.flows, *counters.findings]
    return {k[0] for k in keys} | set(counters.device_last_seen)


def by_ip(devices: list[DeviceSummary]) -> dict[str, DeviceSummary]:
    return {d.ip: d for d in devices}


# -- multicast groups and broadcast addresses ---------------------------------------------------
GROUPS = {"224.0.0.251", "239.255.255.250", "255.255.255.255", "10.20.255.255", "ff02::fb",
          "239.1.2.3"}  # fmt: skip


@FLOWS
def test_groups_and_broadcasts_are_no_devices(light: bool) -> None:
    frames = [
        udp(CAM, "224.0.0.251", 5353, sport=5353),  # mDNS
        udp(CAM, "239.255.255.250", 1900),  # SSDP
        udp(CAM, "255.255.255.255", 62976, sport=62976),  # D-Link discovery
        udp(CAM, "10.20.255.255", 9999),  # the closed network's directed broadcast
        udp("0.0.0.0", "255.255.255.255", 67, mac="02:00:00:00:00:99", sport=68),  # DHCP
        udp("fd20::11", "ff02::fb", 5353, sport=5353),
        syn(SCANNER, "239.1.2.3", 80),  # nonsense from outside: still no device
    ]
    pipe = replay([frames], site(limit=2), light)
    book = pipe.devices
    listed = {a for d in book.merged_devices() for a in d.addresses} | set(book.silent)
    assert listed == {CAM, "fd20::11"}
    assert book.overflow.count() == 0  # the groups took no place under the limit of two
    labels = device_labels(pipe.snapshot().counters)
    assert labels & GROUPS == set()
    assert labels == {CAM, "fd20::11", "multicast", "broadcast"}  # DHCP from 0.0.0.0: broadcast
    assert sum(pipe.snapshot().counters.devices.values()) == 2  # cctv_devices: per address


def test_a_group_address_has_no_summary_and_the_fixed_label() -> None:
    book = DeviceBook(default_policy(), load_catalog())
    assert book.traffic("239.255.255.250", sent=0) is None
    assert book.labels("239.255.255.250") == ("multicast", "unknown")
    assert book.labels("255.255.255.255") == ("broadcast", "unknown")
    book.learn_mac("224.0.0.251", CAM_MAC)  # a spoofed source
    assert book.devices == {} and book.silent == {}


# -- silent hosts -----------------------------------------------------------------------------
def _scan(targets: Sequence[str]) -> list[Packet]:
    return [syn(SCANNER, t) for t in targets]


@FLOWS
def test_hosts_only_ever_seen_as_destinations_are_listed_apart(light: bool) -> None:
    unreachable = udp(CAM, "10.20.1.61", 514)  # to a host that is off: the router says so
    error = Ether(src=GW_MAC) / IP(src="10.20.0.1", dst=CAM) / ICMP(type=3, code=1)
    answer = TCP(sport=80, dport=50000, flags="SA")
    first = [
        *_scan([f"10.20.1.5{i}" for i in range(5)]),
        syn(SCANNER, "10.20.1.60", 80),
        frame("10.20.1.60", SCANNER, answer, "02:00:00:00:60:60"),
        unreachable,
        error / bytes(unreachable[IP])[:28],
    ]
    batches = [
        first,
        [udp(CAM, DNS, 53)],
        [udp("10.20.1.52", DNS, 53, mac="02:00:00:00:52:52")],  # one of them speaks up
    ]
    pipe = replay(batches, site(), light)
    book = pipe.devices
    devices = by_ip(book.merged_devices())
    assert set(devices) == {CAM, "10.20.1.60", "10.20.1.52"}
    silent = by_ip(list(book.silent.values()))
    assert set(silent) == {
        "10.20.1.50",
        "10.20.1.51",
        "10.20.1.53",
        "10.20.1.54",
        "10.20.1.61",
        DNS,
    }
    assert (silent["10.20.1.61"].packets, silent["10.20.1.61"].flows) == (2, 1)  # + the error
    assert devices["10.20.1.52"].packets == 2  # what it received before it spoke, kept
    # findings are about the closed-network side: they name a silent host as their device
    inbound = {f.device for f in pipe.findings.findings() if f.kind.value == "inbound"}
    assert inbound == {"10.20.1.50", "10.20.1.51", "10.20.1.52", "10.20.1.53", "10.20.1.54",
                       "10.20.1.60"}  # fmt: skip
    counters = pipe.snapshot().counters
    labels = device_labels(counters)
    assert labels & set(silent) == set() and SILENT_LABEL in labels
    # .52 spoke up only after its inbound flow had settled: that flow stays counted as silent
    assert counters.findings[(SILENT_LABEL, "unknown", "inbound")] == 5
    assert SILENT_LABEL not in counters.device_last_seen
    assert sum(counters.devices.values()) == 3


@FLOWS
def test_silent_hosts_take_no_place_under_the_device_limit(light: bool) -> None:
    scan = _scan([f"10.20.2.{i}" for i in range(1, 11)])
    talkers = [udp(f"10.20.3.{i}", DNS, 53, mac=f"02:00:00:00:03:0{i}") for i in (1, 2, 3)]
    pipe = replay([scan, talkers], site(limit=3), light)
    book = pipe.devices
    assert set(book.devices) - {OTHER_LABEL} == {"10.20.3.1", "10.20.3.2", "10.20.3.3"}
    assert book.overflow.count() == 0  # no device was pushed out
    # silent hosts have a bound of their own: beyond it they count as "other"
    assert len(book.silent) == 3 and book.silent_overflow.count() == 10 + 1 - 3  # + the DNS
    assert book.devices[OTHER_LABEL].packets == 7 + 3  # 7 SYNs, the talkers' 3 queries
    labels = device_labels(pipe.snapshot().counters)
    assert labels == {"10.20.3.1", "10.20.3.2", "10.20.3.3", SILENT_LABEL, OTHER_LABEL}
    found = {f.device: f.flows for f in pipe.findings.findings()}
    assert found == {**dict.fromkeys(book.silent, 1), OTHER_LABEL: 7}  # the scanner's SYNs


@FLOWS
def test_an_inventory_host_is_a_device_even_when_it_never_sends(light: bool) -> None:
    entry = DeviceEntry(ip="10.20.1.99", name="cam-99", role="camera")
    pipe = replay([_scan(["10.20.1.99"])], site(entry), light)
    assert "10.20.1.99" in pipe.devices.devices and pipe.devices.silent == {}
    assert "cam-99" in device_labels(pipe.snapshot().counters)


# -- one host, several addresses -----------------------------------------------------------------
def _dns_from(src: str, mac: str, n: int = 1) -> list[Packet]:
    server = DNS6 if ":" in src else DNS
    return [udp(src, server, 53, mac=mac, sport=40000 + i) for i in range(n)]


@FLOWS
def test_one_mac_at_two_addresses_is_one_device(light: bool) -> None:
    frames = _dns_from(CAM, CAM_MAC, 3) + _dns_from("fd20::11", CAM_MAC) + [syn(SCANNER, CAM)]
    pipe = replay([frames], site(), light)
    devices = pipe.devices.merged_devices()
    assert [(d.ip, d.addresses) for d in devices] == [(CAM, [CAM, "fd20::11"])]
    cam = devices[0]
    assert (cam.packets, cam.flows, cam.mac, cam.vendor) == (5, 5, CAM_MAC, "hikvision")
    # metrics and findings keep the flow's address
    assert {CAM, "fd20::11"} <= device_labels(pipe.snapshot().counters)
    assert {f.device for f in pipe.findings.findings()} == {CAM}


@FLOWS
def test_a_mac_sending_for_many_addresses_is_a_router_and_stays_apart(light: bool) -> None:
    router = "00:00:5e:00:01:01"
    frames = [p for i in range(1, 11) for p in _dns_from(f"10.20.2.{i}", router)]
    pipe = replay([frames], site(), light)
    devices = pipe.devices.merged_devices()
    assert sorted(d.ip for d in devices) == sorted(f"10.20.2.{i}" for i in range(1, 11))
    assert all(d.addresses == [d.ip] for d in devices)
    for dev in devices:
        assert any(f.fact == "router_mac" and f.value == router for f in dev.evidence)


@FLOWS
def test_addresses_the_inventory_lists_apart_are_never_merged(light: bool) -> None:
    a = DeviceEntry(ip="10.20.1.21", name="cam-21")
    b = DeviceEntry(ip="10.20.1.22", name="cam-22")
    frames = _dns_from("10.20.1.21", CAM_MAC) + _dns_from("10.20.1.22", CAM_MAC)
    devices = replay([frames], site(a, b), light).devices.merged_devices()
    assert sorted((d.ip, d.name, d.addresses) for d in devices) == [
        ("10.20.1.21", "cam-21", ["10.20.1.21"]),
        ("10.20.1.22", "cam-22", ["10.20.1.22"]),
    ]


@FLOWS
def test_an_inventory_entrys_addresses_are_one_device(light: bool) -> None:
    entry = DeviceEntry(ip="10.20.1.31", addresses=("fd20::31",), name="cam-31", role="camera")
    frames = _dns_from("10.20.1.31", "02:00:00:00:31:04") + _dns_from(
        "fd20::31", "02:00:00:00:31:06", 4
    )
    pipe = replay([frames], site(entry), light)
    devices = pipe.devices.merged_devices()
    assert [(d.ip, d.name, d.addresses, d.packets) for d in devices] == [
        ("10.20.1.31", "cam-31", ["10.20.1.31", "fd20::31"], 5)  # the inventory's ip first
    ]
    counters = pipe.snapshot().counters
    assert device_labels(counters) == {"cam-31"}  # both addresses carry the inventory name
    assert sum(counters.devices.values()) == 1


def test_a_policy_reload_keeps_the_devices_and_takes_the_new_limit() -> None:
    from monitor.live.reload import apply_policy

    frames = [p for i in (1, 2, 3) for p in _dns_from(f"10.20.3.{i}", f"02:00:00:00:03:0{i}")]
    pipe = replay([frames], site(limit=2), light=False)
    assert OTHER_LABEL in pipe.devices.devices  # the third host is "other"
    apply_policy(pipe, site(DeviceEntry(ip="10.20.3.1", name="cam-1"), limit=5))
    book = pipe.devices
    assert (set(book.devices), book.max_devices) == ({"10.20.3.1", "10.20.3.2"}, 5)
    assert book.labels("10.20.3.1") == ("cam-1", "unknown")
    assert book.labels("10.20.3.3")[0] == "10.20.3.3"  # room for it now


def test_live_workers_count_the_devices_the_replay_counts() -> None:
    from monitor.live.merge import new_sightings

    entry = DeviceEntry(ip="10.20.1.31", addresses=("fd20::31",), name="cam-31")
    book = DeviceBook(site(entry, limit=1), load_catalog(), max_devices=1)
    for ip in ("10.20.1.31", "fd20::31", "10.20.3.1", "10.20.3.2"):  # .2 is "other"
        book.get(ip)
    assert OTHER_LABEL in book.devices
    sightings = new_sightings(book, {})
    assert sorted(ip for ip, _ in sightings) == ["10.20.1.31", "10.20.3.1"]
    assert len(sightings) == sum(book.role_counts().values())


@FLOWS
def test_a_scan_of_the_whole_closed_network_stays_bounded(light: bool) -> None:
    """An outside scanner's SYNs to 65,536 inside addresses, none answered: a hundred
    silent hosts, the rest one "other"; findings and labels bounded alike."""
    from bench.make_flood import flood

    frames = flood(20_000, 0x0A140000 + np.arange(65536, dtype=np.uint64), np.random.default_rng(1))
    inbound = frames.copy()  # the same SYNs turned around: outside -> inside
    inbound[:, 26:30], inbound[:, 30:34] = frames[:, 30:34], frames[:, 26:30]
    inbound[:, 34:36], inbound[:, 36:38] = frames[:, 36:38], frames[:, 34:36]
    pipe = Pipeline(site(limit=100), load_catalog(), PipelineSettings(light_flows=light))
    ts = T0 + np.arange(inbound.shape[0]) * 1e-3
    for start in range(0, inbound.shape[0], 4096):
        rows = inbound[start : start + 4096]
        pipe.process(batch_of([r.tobytes() for r in rows], list(ts[start : start + 4096])))
    pipe.finish()
    book = pipe.devices
    targets = len({bytes(r[30:34]) for r in inbound})
    assert len(book.silent) == 100 and set(book.devices) == {OTHER_LABEL}
    assert book.silent_overflow.count() == pytest.approx(targets - 100, rel=0.02)
    assert book.overflow.count() == 0
    assert (
        book.devices[OTHER_LABEL].packets + sum(h.packets for h in book.silent.values()) == 20_000
    )
    assert device_labels(pipe.snapshot().counters) == {SILENT_LABEL, OTHER_LABEL}
    assert {f.device for f in pipe.findings.findings()} <= {*book.silent, OTHER_LABEL}
    assert len(pipe.findings.findings()) < 4096 + 101 + 1  # per kind, then per device
