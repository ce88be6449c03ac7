"""Devices as people think of them, on real captures, checked against tshark.

- a multicast group or broadcast address (mDNS 224.0.0.251, SSDP 239.255.255.250, ...) is
  never a device, a silent host or a ``device`` label;
- every device address sent packets (tshark shows it as a source) and no silent host did;
- one MAC at a host's few addresses is one device (the D-Link DCS-935L at its boot default
  192.168.0.20 and its DHCP address 10.10.10.37; a host's IPv4 and IPv6 addresses);
- the mydlink cloud the D-Link camera reaches is D-Link's.
"""

from __future__ import annotations

import functools
import ipaddress
import subprocess
from pathlib import Path

import pytest

from monitor.classify.catalog import load_catalog
from monitor.config import Policy, default_policy, load_policy
from monitor.counters import Counters
from monitor.model import AuditResult
from monitor.replay import run_replay
from tests.requirements import REPO, require_shared, require_tool

DLINK = "iotsentinel_dlink-dcs935l-cam_setup-A-1.pcap"
WITH_GROUPS = [
    DLINK,
    "iotsentinel_dlink-dcs930l-daycam_setup-A-1.pcap",
    "iotsentinel_edimax-cam1_setup-A-1.pcap",
    "iotsentinel_ednet-cam1_setup-A-1.pcap",
    "zeek_mdns.pcap",
    "ndpi_ws-discovery.pcap",
    "ndpi_ubntac2.pcap",
    "ndpi_tplink_shp.pcap",
    "ndpi_tuya_lp.pcap",
]
DEMO = REPO / "pcaps" / "demo_day.pcap.gz"
ERRORS = "icmp.type in {3,11,12} or icmpv6.type in {1,2,3,4}"  # about others' packets


def capture(name: str) -> Path:
    return DEMO if name == DEMO.name else require_shared(Path("pcaps-real") / name)


@functools.cache
def replayed(name: str) -> tuple[AuditResult, Counters]:
    policy = load_policy(str(REPO / "pcaps" / "site.yaml")) if name == DEMO.name else None
    run = run_replay([str(capture(name))], policy or default_policy(), load_catalog())
    return run.result, run.pipeline.snapshot().counters


@functools.cache
def tshark_addresses(name: str, display_filter: str, fields: tuple[str, ...]) -> frozenset[str]:
    command = [require_tool("tshark"), "-r", str(capture(name)), "-Y", display_filter, "-T",
               "fields", *(x for f in fields for x in ("-e", f))]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return frozenset(
        a for line in out.splitlines() for a in line.replace("\t", ",").split(",") if a
    )


def is_group(ip: str) -> bool:
    """Multicast, or a broadcast the built-in policy knows (the end of 10/8, 192.168/16 ...).

    A subnet's directed broadcast (192.168.242.255) is not known without a site policy:
    never sending, it is a silent host, never a device (see the test below).
    """
    addr = ipaddress.ip_address(ip)
    return addr.is_multicast or ip in ("255.255.255.255", "10.255.255.255", "192.168.255.255")


@pytest.mark.realpcaps
@pytest.mark.tools
@pytest.mark.parametrize("name", [*WITH_GROUPS, DEMO.name])
def test_groups_are_no_devices_and_devices_are_senders(name: str) -> None:
    result, counters = replayed(name)
    groups = tshark_addresses(name, "ip or ipv6", ("ip.dst", "ipv6.dst"))
    groups = frozenset(a for a in groups if is_group(a))
    assert groups, "the capture has multicast or broadcast traffic"
    devices = {a for d in result.devices for a in d.addresses}
    silent = {h.ip for h in result.silent_hosts}
    labels = {k[0] for k in (*counters.packets, *counters.flows)}
    assert (devices | silent | labels) & groups == set()
    senders = tshark_addresses(name, f"(ip or ipv6) and not ({ERRORS})", ("ip.src", "ipv6.src"))
    assert devices <= senders
    assert silent & senders == set()
    assert not any(a.endswith(".255") for a in devices)
    assert "224.0.0.251" not in devices | silent and "239.255.255.250" not in devices | silent


@pytest.mark.realpcaps
def test_a_directed_broadcast_the_policy_implies_is_no_host() -> None:
    path = str(capture("ndpi_plex-gdm-m-search_udp32412.pcap"))  # 192.168.242.8 -> .255
    default = run_replay([path], default_policy(), load_catalog()).result
    assert [h.ip for h in default.silent_hosts] == ["192.168.242.255"]  # not known: silent
    site = Policy("plex", (ipaddress.ip_network("192.168.242.0/24"),))
    run = run_replay([path], site, load_catalog())
    assert [d.ip for d in run.result.devices] == ["192.168.242.8"]
    assert run.result.silent_hosts == []
    assert {k[0] for k in run.pipeline.snapshot().counters.packets} == {"192.168.242.8"}


@pytest.mark.realpcaps
@pytest.mark.tools
def test_the_dlink_camera_is_one_device_reaching_d_links_cloud() -> None:
    result, _ = replayed(DLINK)
    mac = "b0:c5:54:25:5b:0e"
    cam = [d for d in result.devices if d.mac == mac]
    assert [(d.ip, d.addresses, d.vendor, d.role, d.model) for d in cam] == [
        ("10.10.10.37", ["10.10.10.37", "192.168.0.20"], "dlink", "camera", "DCS-935L")
    ]
    sources = tshark_addresses(DLINK, f"eth.src == {mac} and ip", ("ip.src",))
    assert sources == {"0.0.0.0", "10.10.10.37", "192.168.0.20"}  # 0.0.0.0: its DHCP
    # its boot-time resolver only ever got queries (and a router's "host unreachable")
    assert [(h.ip, h.packets) for h in result.silent_hosts] == [("192.168.0.1", 2)]
    cloud = [f for f in result.findings if f.endpoint == "mydlink-cloud"]
    assert {f.kind.value for f in cloud} == {"vendor_cloud", "vendor_lookup"}
    assert {f.vendor for f in cloud} == {"dlink"}


@pytest.mark.realpcaps
def test_a_hosts_ipv4_and_ipv6_addresses_are_one_device() -> None:
    result, _ = replayed("zeek_mdns.pcap")
    assert [(d.ip, d.addresses) for d in result.devices] == [
        ("10.0.2.7", ["10.0.2.7", "fd52:429e:c03c:8235:883c:d6ff:fee1:4dc4",
                      "fe80::883c:d6ff:fee1:4dc4"]),
    ]  # fmt: skip


def test_the_demo_days_gateway_is_one_device_with_its_ipv6_address() -> None:
    result, _ = replayed(DEMO.name)
    gateway = next(d for d in result.devices if d.ip == "10.20.0.1")
    assert gateway.addresses == ["10.20.0.1", "fd20::1"]
    assert len(result.devices) == 13 and result.silent_hosts == []
