"""Destinations that can never leave the segment (CONTRACT.md §2, last sentence)."""

from __future__ import annotations

import ipaddress

# (network int, mask int) per IP version. Directed broadcasts depend on the subnet, which
# a passive sensor cannot know for sure, so only the limited broadcast is listed.
V4_NEVER_OUTSIDE = (
    "224.0.0.0/4",  # multicast
    "255.255.255.255/32",  # limited broadcast
    "0.0.0.0/8",  # "this network" (0.0.0.0 as DHCP source)
    "169.254.0.0/16",  # link-local
    "127.0.0.0/8",  # loopback
)
_V4 = tuple(
    (int(n.network_address), int(n.netmask)) for n in map(ipaddress.IPv4Network, V4_NEVER_OUTSIDE)
)
_V6 = tuple(
    (int(n.network_address), int(n.netmask))
    for n in map(
        ipaddress.IPv6Network,
        (
            "ff00::/8",  # multicast
            "fe80::/10",  # link-local
            "::/128",  # unspecified
            "::1/128",  # loopback
        ),
    )
)
_CACHE_MAX = 1 << 16
_cache: dict[str, bool] = {}


def _compute(addr: str) -> bool:
    a = ipaddress.ip_address(addr)
    if isinstance(a, ipaddress.IPv6Address):
        mapped = a.ipv4_mapped
        if mapped is None:
            value = int(a)
            return any(value & mask == base for base, mask in _V6)
        a = mapped
    value = int(a)
    return any(value & mask == base for base, mask in _V4)


def never_outside(addr: str) -> bool:
    """True for multicast, limited broadcast, unspecified, link-local and loopback addresses.

    Such destinations cannot leave the segment, so they never count as outside whatever the
    policy says. Raises ValueError for a string that is not an IP address.
    """
    try:
        return _cache[addr]
    except KeyError:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        result = _cache[addr] = _compute(addr)
        return result
