"""Multicast groups and broadcast addresses are destinations, never devices."""

from __future__ import annotations

import ipaddress

import pytest

from monitor.classify.group_addresses import BROADCAST, MULTICAST, GroupAddresses
from monitor.config import Policy, default_policy


def site(*nets: str) -> Policy:
    return Policy("s", tuple(ipaddress.ip_network(n) for n in nets))


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("224.0.0.251", MULTICAST),  # mDNS
        ("239.255.255.250", MULTICAST),  # SSDP
        ("224.0.0.22", MULTICAST),  # IGMPv3 reports
        ("ff02::fb", MULTICAST),
        ("ff02::1:ff00:1", MULTICAST),
        ("::ffff:239.255.255.250", MULTICAST),  # IPv4-mapped
        ("255.255.255.255", BROADCAST),
        ("10.20.255.255", BROADCAST),  # the last address of 10.20.0.0/16
        ("192.168.7.127", BROADCAST),  # ... of 192.168.7.0/25
        ("10.20.1.255", None),  # a /24 inside the /16: the policy does not say it is one
        ("10.20.0.0", None),
        ("192.168.9.1", None),  # a /31 and a /32 have no broadcast address
        ("192.168.9.0", None),
        ("192.168.9.7", None),
        ("10.20.1.11", None),
        ("fd20::ffff:ffff:ffff:ffff", None),  # IPv6 has no broadcast
        ("other", None),  # not an address at all
    ],
)
def test_kind(ip: str, kind: str | None) -> None:
    groups = GroupAddresses(
        site("10.20.0.0/16", "192.168.7.0/25", "192.168.9.0/31", "192.168.9.7/32", "fd20::/64")
    )
    assert groups.kind(ip) == kind
    assert groups.is_group(ip) == (kind is not None)
    assert groups.kind(ip) == kind  # cached: the same answer


def test_the_default_policy_knows_only_its_own_range_ends() -> None:
    groups = GroupAddresses(default_policy())
    assert groups.kind("10.255.255.255") == BROADCAST
    assert groups.kind("192.168.255.255") == BROADCAST
    assert groups.kind("10.10.10.255") is None  # the real /24 is not known
