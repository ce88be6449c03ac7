"""The rules that put one host's addresses together (monitor/classify/device_merge.py)."""

from __future__ import annotations

import ipaddress

from monitor.classify.device_merge import MAX_MERGED, merge_devices, merge_groups
from monitor.config import DeviceEntry, Policy
from monitor.model import DeviceFact, DeviceSummary

NETS = tuple(ipaddress.ip_network(n) for n in ("10.20.0.0/16", "fd20::/64"))


def policy(*devices: DeviceEntry) -> Policy:
    return Policy("s", NETS, devices=devices)


def summaries(*ips: str) -> dict[str, DeviceSummary]:
    return {ip: DeviceSummary(ip=ip, addresses=[ip]) for ip in ips}


def groups(devices: dict[str, DeviceSummary], sources: dict[str, set[str]], p: Policy) -> list:
    return merge_groups(devices, sources, p.devices, p.device_for)


def test_a_mac_at_up_to_four_addresses_is_one_host() -> None:
    four = {"10.20.1.11", "fd20::11", "fd20::a11", "10.20.9.11"}
    five = {f"10.20.2.{i}" for i in range(1, MAX_MERGED + 2)}
    devices = summaries(*four, *five)
    got = groups(devices, {"aa": four, "rr": five}, policy())
    assert got == [["10.20.1.11", "10.20.9.11", "fd20::11", "fd20::a11"]]


def test_addresses_never_seen_as_devices_are_left_out() -> None:
    devices = summaries("10.20.1.11")  # fd20::11 was only ever a destination
    assert groups(devices, {"aa": {"10.20.1.11", "fd20::11"}}, policy()) == []


def test_two_inventory_devices_are_never_joined_not_even_through_a_third_address() -> None:
    a, b = DeviceEntry(ip="10.20.1.21", name="a"), DeviceEntry(ip="10.20.1.22", name="b")
    devices = summaries("10.20.1.21", "10.20.1.22", "fd20::21")
    sources = {"m1": {"10.20.1.21", "fd20::21"}, "m2": {"fd20::21", "10.20.1.22"}}
    assert groups(devices, sources, policy(a, b)) == [["10.20.1.21", "fd20::21"]]


def test_an_inventory_entrys_addresses_join_whatever_the_macs() -> None:
    entry = DeviceEntry(ip="10.20.1.31", addresses=("fd20::31", "fd20::b31"), name="cam")
    devices = summaries("10.20.1.31", "fd20::31")
    assert groups(devices, {}, policy(entry)) == [["10.20.1.31", "fd20::31"]]


def test_the_merged_device_sums_traffic_and_keeps_the_primarys_facts() -> None:
    rtsp = DeviceFact("role", "camera", "serves RTSP", "medium")
    v4 = DeviceSummary(ip="10.20.1.11", packets=10, bytes=1000, flows=2, findings=1,
                       first_ts=5.0, last_ts=9.0, vendor=None, role="camera",
                       services=["554/tcp rtsp"], evidence=[rtsp])  # fmt: skip
    v4.add_bytes("internal", 1000, 600)
    v6 = DeviceSummary(ip="fd20::11", packets=30, bytes=3000, flows=1, findings=0,
                       first_ts=1.0, last_ts=7.0, vendor="hikvision", role="recorder",
                       services=["80/tcp", "554/tcp rtsp"], mac="44:19:b6:3c:5e:11")  # fmt: skip
    v6.add_bytes("internal", 2000, 100)
    v6.add_bytes("egress", 1000, 1000)
    merged = merge_devices([v4, v6], policy().device_for)
    assert merged.ip == "fd20::11"  # most packets, no inventory entry
    assert merged.addresses == ["fd20::11", "10.20.1.11"]
    assert (merged.packets, merged.bytes, merged.flows, merged.findings) == (40, 4000, 3, 1)
    assert (merged.first_ts, merged.last_ts) == (1.0, 9.0)
    assert merged.bytes_by_verdict == {"internal": 3000, "egress": 1000}
    assert merged.bytes_sent_by_verdict == {"internal": 700, "egress": 1000}
    assert (merged.vendor, merged.role, merged.mac) == ("hikvision", "recorder", v6.mac)
    assert merged.services == ["80/tcp", "554/tcp rtsp"]
    assert merged.evidence == v4.evidence
    assert (v4.packets, v6.packets, v6.addresses) == (10, 30, [])  # the parts stay as they were


def test_the_inventory_ip_is_primary_and_names_the_device() -> None:
    entry = DeviceEntry(ip="10.20.1.31", addresses=("fd20::31",), name="cam-31")
    small = DeviceSummary(ip="10.20.1.31", packets=1, name="cam-31")
    big = DeviceSummary(ip="fd20::31", packets=100, name="cam-31", hostname="ipcam")
    merged = merge_devices([big, small], policy(entry).device_for)
    assert (merged.ip, merged.name, merged.hostname) == ("10.20.1.31", "cam-31", "ipcam")
    assert merged.addresses == ["10.20.1.31", "fd20::31"]
