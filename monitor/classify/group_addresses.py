"""Multicast groups and broadcast addresses: destinations that are never devices.

A multicast group (224.0.0.0/4, ff00::/8) or a broadcast address (255.255.255.255, and
the directed broadcast of a closed network of prefix length below 31: the last address
of 10.20.0.0/16 is 10.20.255.255) is where many hosts listen, not a host. It is never
listed in ``devices[]``, never gets a ``device`` label of its own and never counts
against the device limit: its traffic carries the label ``multicast`` or ``broadcast``
where it is a flow's closed-network side. Directed broadcasts are only known from the
policy: the last address of any aligned subnet at the end of a closed network is a
broadcast address whatever the real subnet size, and nothing else is guessed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from monitor.config import Policy
from monitor.flow.key import v4_int

MULTICAST = "multicast"
BROADCAST = "broadcast"
LIMITED_BROADCAST = 0xFFFFFFFF
_V4_MULTICAST_MASK, _V4_MULTICAST = 0xF0000000, 0xE0000000
_CACHE_MAX = 1 << 16


def directed_broadcasts(policy: Policy) -> frozenset[int]:
    """The directed broadcast addresses (as integers) the policy's closed networks imply."""
    return frozenset(
        int(net.broadcast_address)
        for net in policy.closed_networks
        if net.version == 4 and net.prefixlen < 31
    )


@dataclass(slots=True)
class GroupAddresses:
    """Tells multicast groups and broadcast addresses apart from hosts (cached, bounded)."""

    policy: Policy
    _broadcasts: frozenset[int] = field(init=False)
    _broadcast_texts: frozenset[str] = field(init=False)
    _cache: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._broadcasts = directed_broadcasts(self.policy) | {LIMITED_BROADCAST}
        self._broadcast_texts = frozenset(map(str, map(IPv4Address, self._broadcasts)))

    def kind(self, ip: str) -> str | None:
        """``multicast``, ``broadcast``, or None for a host address (or no address at all)."""
        first, dot, _ = ip.partition(".")
        if dot and first.isdigit() and ":" not in ip:  # dotted IPv4, as the decoder writes it
            if 224 <= int(first) <= 239:
                return MULTICAST
            return BROADCAST if ip in self._broadcast_texts else None
        try:
            return self._cache[ip]
        except KeyError:
            pass
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        found = self._cache[ip] = self._compute(ip)
        return found

    def _compute(self, ip: str) -> str | None:
        number = v4_int(ip)
        if number is not None:
            if number & _V4_MULTICAST_MASK == _V4_MULTICAST:
                return MULTICAST
            return BROADCAST if number in self._broadcasts else None
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None  # "other" and the like: no address
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            return self._compute(str(addr.ipv4_mapped))
        return MULTICAST if addr.is_multicast else None

    def is_group(self, ip: str) -> bool:
        """True for a multicast group or a broadcast address."""
        return self.kind(ip) is not None
