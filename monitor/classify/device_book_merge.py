"""One DeviceBook and one Fingerprinter from those of several partitions of a replay.

Each partition of ``replay --jobs`` saw every host only in its own flows. The merged book
is built as a single process builds its own: each host is created (from the inventory
when listed), told the MAC it sent from, and given the traffic totals of every
partition; a host that was silent in one partition but spoke in another is a device,
its silent totals added to it. Facts are the union of what the partitions learned; the
caller summarises them once with :meth:`DeviceBook.refresh`.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Sequence

from monitor.classify.catalog import VendorCatalog
from monitor.classify.device_merge import add_traffic
from monitor.classify.devices import OTHER_LABEL, DeviceBook
from monitor.classify.fingerprint import MAX_FACTS, MAX_PEERS, Fingerprinter, HostFacts
from monitor.config import Policy


def merge_books(books: Sequence[DeviceBook], policy: Policy, catalog: VendorCatalog) -> DeviceBook:
    """The partitions' books as one (TLS client prints and facts are not taken: see the
    module doc)."""
    merged = DeviceBook(policy, catalog, max_devices=policy.limits.devices)
    # MACs first, as a host's first frame teaches it before any total; the earliest wins
    learned = sorted(
        (ts, part, ip, mac)
        for part, book in enumerate(books)
        for ip, (ts, mac) in book.macs_learned.items()
    )
    for ts, _, ip, mac in learned:
        merged.learn_mac(ip, mac, None if ts == math.inf else ts)
    # then the hosts in the order they were first seen over all partitions: the device
    # limit keeps the earliest, as one process does ("first seen, first kept")
    hosts = sorted(
        (math.inf if dev.first_ts is None else dev.first_ts, part, ip)
        for part, book in enumerate(books)
        for ip, dev in book.devices.items()
    )
    for _, part, ip in hosts:
        dev = books[part].devices[ip]
        into = merged._other() if ip == OTHER_LABEL else merged.devices.get(ip)
        add_traffic(into or merged.get(ip), dev)
    for book in books:  # a host beyond one partition's limit may be kept by the merge
        merged.overflow.update(book.overflow)
        merged.silent_overflow.update(book.silent_overflow)
    merged.overflow.discard_many(merged.devices)
    for book in books:
        for ip, quiet in book.silent.items():
            known = merged.devices.get(ip)
            add_traffic(known if known is not None else merged._quiet(ip), quiet)
    merged.silent_overflow.discard_many([*merged.devices, *merged.silent])
    return merged


def merge_prints(prints: Sequence[Fingerprinter], catalog: VendorCatalog) -> Fingerprinter:
    """The union of the partitions' device facts (first partition first)."""
    merged = Fingerprinter(catalog)
    for p in prints:
        for table, into in ((p.hosts, merged.hosts), (p.macs, merged.macs)):
            for key, facts in table.items():
                _add_facts(into.setdefault(key, HostFacts()), facts)
                merged.changed.add(key)
        merged.dropped += p.dropped
    return merged


def _add_facts(into: HostFacts, new: HostFacts) -> None:
    for key, fact in new.facts.items():
        if key not in into.facts and len(into.facts) < MAX_FACTS:
            into.facts[key] = fact
    into.services |= new.services
    into.asked |= new.asked
    for mine, theirs in (
        (into.rtsp_clients, new.rtsp_clients),
        (into.rtsp_sources, new.rtsp_sources),
        (into.web_servers, new.web_servers),
    ):
        for value in sorted(theirs):
            if len(mine) >= MAX_PEERS:
                break
            mine.add(value)
    if into.address is None:
        into.address = new.address


def finding_device(book: DeviceBook) -> Callable[[str], str]:
    """What a partition's finding device becomes in the merged ``book``: ``other`` for a
    closed-network address the merged book counts there (beyond the device limit of the
    whole run, though within its partition's), else itself."""
    policy = book.policy

    def device(name: str) -> str:
        if name in book.devices or name in book.silent or not _is_address(name):
            return name
        if book.groups.kind(name) is not None:  # a multicast group or broadcast: no device
            return name
        return OTHER_LABEL if policy.is_closed(name) else name

    return device


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
