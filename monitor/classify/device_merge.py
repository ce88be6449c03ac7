"""One device, several addresses: the report's device list with a host's IPs together.

A host is often seen at more than one address: its IPv4 and IPv6 addresses, the
default address it booted with and the one DHCP gave it. Two sources say so:

- the inventory: an entry's ``ip`` and ``addresses`` are one device;
- the wire: one MAC is the source of frames from at most :data:`MAX_MERGED` closed-network
  addresses. A MAC sending for more is a router's (it carries every routed host's
  address) and its addresses stay apart.

Addresses the inventory lists as different devices are never merged. The merged device
keeps the primary address as ``ip`` (the inventory's ``ip``, else the address with the
most packets) and lists all of them in ``addresses``, primary first. Findings and
metrics are untouched: they keep the flow's address (or the inventory name) as device.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from monitor.config import DeviceEntry
from monitor.model import DeviceSummary

MAX_MERGED = 4  # addresses one MAC may send from and still be one host (IPv4 + IPv6 ...)
_FACTS = ("name", "vendor", "role", "mac", "model", "firmware", "serial", "hostname")

EntryOf = Callable[[str], DeviceEntry | None]


def _ip_order(ip: str) -> tuple[int, int, str]:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return (9, 0, ip)
    return (addr.version, int(addr), ip)


class _Groups:
    """Union-find over addresses; a set never holds two inventory devices."""

    def __init__(self, entry_of: EntryOf) -> None:
        self.parent: dict[str, str] = {}
        self.entry: dict[str, DeviceEntry | None] = {}  # root -> its inventory host entry
        self.entry_of = entry_of

    def find(self, ip: str) -> str:
        if ip not in self.parent:
            self.parent[ip] = ip
            entry = self.entry_of(ip)
            self.entry[ip] = entry if entry is not None and entry.ip is not None else None
        root = ip
        while self.parent[root] != root:
            root = self.parent[root]
        self.parent[ip] = root
        return root

    def join(self, ips: list[str]) -> None:
        """Put ``ips`` in one set, unless that would put two inventory devices together."""
        roots = {self.find(ip) for ip in ips}
        entries = {id(e): e for r in roots if (e := self.entry[r]) is not None}
        if len(entries) > 1 or len(roots) < 2:
            return
        top, *rest = sorted(roots)
        for r in rest:
            self.parent[r] = top
        self.entry[top] = next(iter(entries.values()), None)

    def sets(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for ip in self.parent:
            out.setdefault(self.find(ip), []).append(ip)
        return out


def merge_groups(
    devices: Mapping[str, DeviceSummary],
    sources: Mapping[str, set[str]],
    inventory: Iterable[DeviceEntry],
    entry_of: EntryOf,
) -> list[list[str]]:
    """The sets of device addresses that are one device (only sets of two or more).

    ``sources`` maps a MAC to the closed-network addresses it sent frames from.
    """
    groups = _Groups(entry_of)
    for entry in inventory:
        if entry.ip is not None and entry.addresses:
            seen = [ip for ip in (entry.ip, *entry.addresses) if ip in devices]
            groups.join(seen)
    for ips in sources.values():
        if len(ips) <= MAX_MERGED:
            groups.join(sorted(ip for ip in ips if ip in devices))
    return [sorted(s, key=_ip_order) for s in groups.sets().values() if len(s) > 1]


def primary_of(members: list[DeviceSummary], entry_of: EntryOf) -> DeviceSummary:
    """The inventory's ``ip`` if it is among ``members``, else the one with most packets."""
    for dev in members:
        entry = entry_of(dev.ip)
        if entry is not None and entry.ip == dev.ip:
            return dev
    return max(members, key=lambda d: (d.packets, d.bytes, [-x for x in _ip_order(d.ip)[:2]]))


def merge_devices(members: list[DeviceSummary], entry_of: EntryOf) -> DeviceSummary:
    """One summary for ``members`` (one host's addresses): the primary's facts, filled in
    from the others where it has none, traffic summed, every address listed (evidence:
    the union, unordered and unbounded)."""
    primary = primary_of(members, entry_of)
    others = sorted((d for d in members if d is not primary), key=lambda d: -d.packets)
    out = replace(
        primary,
        bytes_by_verdict=dict(primary.bytes_by_verdict),
        bytes_sent_by_verdict=dict(primary.bytes_sent_by_verdict),
        services=list(primary.services),
        evidence=list(primary.evidence),
        conflicts=list(primary.conflicts),
        tls_fingerprints=[replace(t) for t in primary.tls_fingerprints],
        addresses=[primary.ip, *sorted((d.ip for d in others), key=_ip_order)],
    )
    for name in _FACTS:
        if getattr(out, name) is None:
            setattr(out, name, next((v for d in others if (v := getattr(d, name))), None))
    for dev in others:
        add_traffic(out, dev)
        out.services += [s for s in dev.services if s not in out.services]
        out.evidence += [f for f in dev.evidence if f not in out.evidence]
        out.conflicts += [c for c in dev.conflicts if c not in out.conflicts]
        _add_prints(out, dev)
    out.services.sort(key=lambda s: (int(s.split("/")[0]) if s[:1].isdigit() else 0, s))
    return out


def _add_prints(into: DeviceSummary, dev: DeviceSummary) -> None:
    """Add ``dev``'s TLS client fingerprints to ``into``'s (one entry per JA4)."""
    have = {p.ja4: p for p in into.tls_fingerprints}
    for p in dev.tls_fingerprints:
        same = have.get(p.ja4)
        if same is None:
            have[p.ja4] = replace(p)
            continue
        if p.first_ts < same.first_ts:
            same.ja3, same.first_ts = p.ja3, p.first_ts
        same.flows += p.flows
        same.last_ts = max(same.last_ts, p.last_ts)
    into.tls_fingerprints = sorted(have.values(), key=lambda p: (-p.flows, p.first_ts, p.ja4))


def add_traffic(into: DeviceSummary, dev: DeviceSummary) -> None:
    """Add ``dev``'s packets, bytes, flows, findings and time span to ``into``."""
    into.packets += dev.packets
    into.bytes += dev.bytes
    into.flows += dev.flows
    into.findings += dev.findings
    for verdict, size in dev.bytes_by_verdict.items():
        sent = dev.bytes_sent_by_verdict.get(verdict, 0)
        into.add_bytes(verdict, size, sent)
    into.first_ts = _extreme(min, into.first_ts, dev.first_ts)
    into.last_ts = _extreme(max, into.last_ts, dev.last_ts)


def _extreme(
    pick: Callable[[float, float], float], a: float | None, b: float | None
) -> float | None:
    if a is None:
        return b
    return a if b is None else pick(a, b)
