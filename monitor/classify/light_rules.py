"""The verdict rules of :mod:`monitor.classify.verdict`, vectorised for light flows.

A light flow is an IPv4 TCP flow without payload whose verdict follows from addresses and
ports alone: exactly one end is in the closed networks and the other is outside (not
multicast, broadcast, link-local or loopback), and nothing about the outside end could
attribute it (not a catalogued or public-resolver address, not a vendor's server port, no
name learned from DNS, not DNS/DoT). For those the rule order leaves three answers:
``internal`` when an allow rule covers the flow, ``inbound`` when the outside end started
it, else ``egress``. The oracle test runs captures with and without light flows and
requires the same counters, findings and devices.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.classify.catalog import VendorCatalog
from monitor.classify.inspector import SLOW_PATH_PORTS
from monitor.classify.names import NameCache
from monitor.classify.networks import V4_NEVER_OUTSIDE
from monitor.config import Policy
from monitor.model import Verdict

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

EGRESS, INBOUND, INTERNAL = 0, 1, 2  # light verdict codes
VERDICTS = (Verdict.EGRESS, Verdict.INBOUND, Verdict.INTERNAL)
_RESOLVER_PORTS = (53, 853)


def _nets(nets: object) -> tuple[U64, U64]:
    """(base, mask) arrays of the IPv4 networks in ``nets``."""
    v4 = [n for n in nets if n.version == 4]  # type: ignore[attr-defined]
    base = np.asarray([int(n.network_address) for n in v4], dtype=np.uint64)
    mask = np.asarray([int(n.netmask) for n in v4], dtype=np.uint64)
    return base, mask


def _within(addr: U64, nets: tuple[U64, U64]) -> Bool:
    base, mask = nets
    out = np.zeros(addr.shape[0], dtype=np.bool_)
    for b, m in zip(base.tolist(), mask.tolist(), strict=True):
        out |= (addr & np.uint64(m)) == np.uint64(b)
    return out


@dataclass(slots=True)
class LightRules:
    """Policy and catalog as numpy tables, for many IPv4 TCP flows at once."""

    policy: Policy
    catalog: VendorCatalog
    names: NameCache
    _closed: tuple[U64, U64] = field(init=False)
    _never: tuple[U64, U64] = field(init=False)
    _known: U64 = field(init=False)
    _vendor_port: Bool = field(init=False)
    _inventory_hosts: U64 = field(init=False)
    _inventory_nets: tuple[U64, U64] = field(init=False)
    _allow: list[tuple[tuple[U64, U64], tuple[U64, U64], tuple[tuple[int, int], ...]]] = field(
        init=False
    )

    def __post_init__(self) -> None:
        self._closed = _nets(self.policy.closed_networks)
        self._never = _nets(ipaddress.ip_network(n) for n in V4_NEVER_OUTSIDE)
        self._known = _sorted_unique(np.asarray(self.catalog.known_v4(), dtype=np.uint64))
        ports = np.zeros(65536, dtype=np.bool_)
        ports[self.catalog.vendor_ports("tcp")] = True
        ports[list(SLOW_PATH_PORTS)] = True
        ports[list(_RESOLVER_PORTS)] = True
        self._vendor_port = ports
        hosts = [a for d in self.policy.devices if d.ip for a in (d.ip, *d.addresses) if "." in a]
        self._inventory_hosts = np.asarray([int(ipaddress.IPv4Address(h)) for h in hosts],
                                           dtype=np.uint64)  # fmt: skip
        self._inventory_nets = _nets([d.network for d in self.policy.devices if d.ip is None])
        self._allow = [
            (_nets([r.src]), _nets([r.dst]), r.ports)
            for r in self.policy.allow
            if r.src.version == 4 and r.proto in ("tcp", "any")
        ]

    def gate(self, orig: U64, resp: U64, orig_port: I64, resp_port: I64) -> Bool:
        """Which of these new payload-free TCP flows can be decided from addresses alone."""
        o_closed, r_closed = _within(orig, self._closed), _within(resp, self._closed)
        o_never, r_never = _within(orig, self._never), _within(resp, self._never)
        ok = (o_closed & ~r_closed & ~r_never) | (r_closed & ~o_closed & ~o_never)
        peer = np.where(o_closed, resp, orig)
        ok &= ~_member(peer, self._known)
        ports = self._vendor_port
        ok &= ~ports[resp_port] & ~ports[orig_port]
        if self.names.v4 and ok.any():
            named = self.names.v4
            ok &= np.fromiter((p not in named for p in peer.tolist()), np.bool_, peer.shape[0])
        return ok

    def in_inventory(self, addrs: U64) -> Bool:
        """Addresses the site inventory lists (as a host or inside a range)."""
        return np.isin(addrs, self._inventory_hosts) | _within(addrs, self._inventory_nets)

    def named(self, peers: U64) -> Bool:
        """Peers a DNS answer has named since (such flows leave the light path)."""
        if not self.names.v4:
            return np.zeros(peers.shape[0], dtype=np.bool_)
        named = self.names.v4
        return np.fromiter((p in named for p in peers.tolist()), np.bool_, peers.shape[0])

    def verdicts(self, orig: U64, resp: U64, resp_port: I64) -> tuple[I64, Bool]:
        """Light verdict codes, and whether the device is the originator."""
        device_is_orig = _within(orig, self._closed)
        allowed = np.zeros(orig.shape[0], dtype=np.bool_)
        for src, dst, ports in self._allow:
            hit = _within(orig, src) & _within(resp, dst)
            if ports:
                in_range = np.zeros_like(hit)
                for lo, hi in ports:
                    in_range |= (resp_port >= lo) & (resp_port <= hi)
                hit &= in_range
            allowed |= hit
        codes = np.where(allowed, INTERNAL, np.where(device_is_orig, EGRESS, INBOUND))
        return codes.astype(np.int64), device_is_orig


# np.unique and np.isin import numpy.ma on first use (7 ms, 5 % of a small replay);
# the catalogued addresses are sorted and unique once, so a binary search will do.
def _sorted_unique(values: U64) -> U64:
    """``np.unique(values)`` of a 1-d array, without numpy.ma."""
    ordered = np.sort(values)
    if ordered.size < 2:
        return ordered
    keep = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    return ordered[keep]


def _member(values: U64, known: U64) -> Bool:
    """``np.isin(values, known)`` for a sorted, unique ``known``."""
    if not known.size:
        return np.zeros(values.shape, dtype=np.bool_)
    at = np.minimum(np.searchsorted(known, values), known.size - 1)
    hit: Bool = known[at] == values
    return hit
