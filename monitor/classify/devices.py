"""What we know about each closed-network host: inventory entry, MAC, vendor, traffic.

Traffic gives guesses (see :mod:`monitor.classify.fingerprint`), the inventory gives
declarations: :meth:`DeviceBook.refresh` resolves each fact (vendor, model, firmware,
serial, role, host name) from the evidence by weight, lets the site inventory win, and
records where the inventory and the traffic disagree.

Devices as people think of them:

- a multicast group or broadcast address (:mod:`monitor.classify.group_addresses`) is no
  device: never in ``devices``, no label of its own, never against the device limit;
- a closed-network address that never sent a packet (a scan target, a camera that is
  off) is a *silent host*, kept apart in ``silent`` until it sends; its traffic is
  labelled ``silent``. They are bounded like the devices: the ones beyond count as the
  device ``other`` (``silent_overflow`` counts them), their findings included.
  Findings still name it as their ``device``: a finding is about the closed-network side
  of a flow, whether or not that side ever answered;
- one host seen at several addresses (one MAC, or one inventory entry) is one device in
  :meth:`DeviceBook.merged_devices` (:mod:`monitor.classify.device_merge`); metrics and
  findings keep the flow's address (or the inventory name).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.classify import device_rules as rules
from monitor.classify.catalog import VendorCatalog
from monitor.classify.device_facts import MAX_EVIDENCE, apply_facts, ordered
from monitor.classify.device_facts import resolve as resolve  # re-exported
from monitor.classify.device_merge import add_traffic, merge_devices, merge_groups
from monitor.classify.distinct import DistinctCount
from monitor.classify.fingerprint import Fingerprinter
from monitor.classify.group_addresses import BROADCAST, MULTICAST, GroupAddresses
from monitor.classify.networks import never_outside
from monitor.classify.tls_clients import TlsClients
from monitor.config import Policy
from monitor.flow.state import FlowState
from monitor.model import DeviceFact, DeviceSummary

OUTSIDE_LABEL = "outside"
OTHER_LABEL = "other"  # closed-network hosts beyond the device limit, counted together
SILENT_LABEL = "silent"  # closed-network addresses that have not sent a packet (yet)
# labels of no device (no cctv_device_last_seen_timestamp_seconds series)
UNSEEN_LABELS = frozenset({OUTSIDE_LABEL, SILENT_LABEL, MULTICAST, BROADCAST})
MAX_DEVICES = 1024  # hosts tracked on their own besides the inventory
UNKNOWN = "unknown"
SHARED_MAC_ADDRESSES = 4  # a MAC sending for more IPv4 addresses is a router's
MAX_SOURCES = 16  # addresses remembered per source MAC (more than enough to call it a router)


@dataclass(slots=True)
class DeviceBook:
    """Every closed-network device seen, with the labels its metrics carry.

    Label values are bounded: a device is named by its inventory name, else by its IP,
    which lies in the closed networks; anything else is one of the labels ``outside``,
    ``multicast``, ``broadcast`` or ``silent``. Hosts outside the inventory are tracked one
    by one up to ``max_devices`` (first seen, first kept); the ones after that are counted
    together as the device ``other`` (``overflow`` counts them), so a spoofed flood cannot
    grow the book or the labels. Silent hosts have a bound of their own, the same number,
    beyond which they count as ``other`` too.
    """

    policy: Policy
    catalog: VendorCatalog
    max_devices: int = MAX_DEVICES
    devices: dict[str, DeviceSummary] = field(default_factory=dict)
    overflow: DistinctCount = field(default_factory=DistinctCount)
    silent: dict[str, DeviceSummary] = field(default_factory=dict)  # only ever destinations
    silent_overflow: DistinctCount = field(default_factory=DistinctCount)
    groups: GroupAddresses = field(init=False)
    _tracked: int = 0  # devices outside the inventory with a summary of their own
    _labels: dict[str, tuple[str, str]] = field(default_factory=dict)
    mac_decided: set[str] = field(default_factory=set)  # hosts learn_mac has nothing more for
    _label_vendor: dict[str, str] = field(default_factory=dict)  # inventory, else first OUI
    _resolved: set[str] = field(default_factory=set)
    _shared_macs: frozenset[str] = frozenset()
    _sources: dict[str, set[str]] = field(default_factory=dict)  # MAC -> addresses it sent from
    tls_clients: TlsClients = field(init=False)  # TLS client fingerprints (tls_clients.py)
    macs_learned: dict[str, tuple[float, str]] = field(default_factory=dict)  # ip -> (ts, mac)

    def __post_init__(self) -> None:
        self.groups = GroupAddresses(self.policy)
        self.tls_clients = TlsClients(self.policy.is_closed)

    @staticmethod
    def carry_over(old: DeviceBook, policy: Policy) -> DeviceBook:
        """A book for a reloaded ``policy`` (its limit, its inventory's labels) holding the
        devices of ``old`` still inside its closed networks, with the MAC each sent from."""
        book = DeviceBook(policy, old.catalog, max_devices=policy.limits.devices)
        book.tls_clients = old.tls_clients
        book.tls_clients.is_closed = policy.is_closed
        for ip, dev in old.devices.items():
            if ip == OTHER_LABEL or not policy.is_closed(ip):
                continue  # "other" stands for hosts the new book may take one by one
            if dev.mac:
                book.learn_mac(ip, dev.mac)
            else:
                book.get(ip)
        return book

    def get(self, ip: str) -> DeviceSummary:
        """The device summary for host address ``ip``, created (from the inventory when
        listed, from its silent host record when it had one) on first use; the shared
        ``other`` summary for a host beyond the device limit."""
        dev = self.devices.get(ip)
        if dev is None:
            entry = self.policy.device_for(ip)
            if entry is None:
                if self._tracked >= self.max_devices:
                    self.overflow.add(ip)
                    other = self._other()
                    quiet = self.silent.pop(ip, None)
                    if quiet is not None:
                        add_traffic(other, quiet)
                    return other
                self._tracked += 1
            dev = self.silent.pop(ip, None) or DeviceSummary(ip=ip, addresses=[ip])
            if entry is not None:
                dev.name = entry.name
                dev.vendor = entry.vendor
                dev.role = entry.role
                dev.mac = entry.mac
                dev.model = entry.model
                dev.firmware = entry.firmware
                dev.serial = entry.serial
            self.devices[ip] = dev
        return dev

    def traffic(self, ip: str, sent: int) -> DeviceSummary | None:
        """Where a flow's numbers for its closed-network end ``ip`` go, given what ``ip``
        ``sent`` in it: the device's summary once it has sent anything (or the inventory
        lists it as a host), else its silent host record (``other`` beyond the limit); None
        for a multicast group or broadcast address."""
        dev = self.devices.get(ip)
        if dev is not None:
            return dev
        if self.groups.kind(ip) is not None:
            return None
        if sent or self._declared(ip):
            return self.get(ip)
        return self._quiet(ip)

    def _quiet(self, ip: str) -> DeviceSummary:
        """The silent host record of ``ip`` (made while there is room), else ``other``: the
        silent hosts beyond the limit count there (``silent_overflow``), so a scan of the
        whole closed network grows neither the report nor the findings' devices."""
        quiet = self.silent.get(ip)
        if quiet is None:
            if len(self.silent) >= self.max_devices:
                self.silent_overflow.add(ip)
                return self._other()
            quiet = self.silent[ip] = DeviceSummary(ip=ip, addresses=[ip])
        return quiet

    def account_flow(self, flow: FlowState) -> None:
        """Add an ended flow to the report totals of each of its closed-network ends."""
        is_closed = self.policy.is_closed
        orig = flow.orig_addr
        packets, size = flow.packets, flow.bytes
        first, last = flow.first_ts, flow.last_ts
        for addr in {orig, flow.resp_addr}:
            if not is_closed(addr):
                continue
            dev = self.traffic(addr, sent_by(flow, addr))
            if dev is None:
                continue
            dev.packets += packets
            dev.bytes += size
            dev.flows += 1
            if addr == flow.device:
                dev.findings += len(flow.finding_kinds)
            dev.add_bytes(flow.verdict, size, flow.orig_bytes if addr == orig else flow.resp_bytes)
            if dev.first_ts is None or first < dev.first_ts:  # min/max, without the calls
                dev.first_ts = first
            if dev.last_ts is None or last > dev.last_ts:
                dev.last_ts = last

    def account(self, delta: DeviceSummary, spoke: int) -> None:
        """Add ``delta`` (the totals of some ended flows of ``delta.ip``, which sent ``spoke``
        packets in them) to the report totals."""
        dev = self.traffic(delta.ip, spoke)
        if dev is not None:
            add_traffic(dev, delta)

    def _declared(self, ip: str) -> bool:
        """Whether the inventory lists ``ip`` as a host (``ip`` or one of its addresses)."""
        entry = self.policy.device_for(ip)
        return entry is not None and entry.ip is not None

    @property
    def full(self) -> bool:
        """Whether a new host outside the inventory would be counted as ``other``."""
        return self._tracked >= self.max_devices

    def labels_many(
        self, ips: list[str], spoke: list[bool], listed: list[bool]
    ) -> list[tuple[str, str]]:
        """:meth:`labels` of many closed-network addresses (of light flows) at once: the ones
        that can only be ``other`` now (not ``listed`` in the inventory, not known, the
        limit of their kind reached) are counted in bulk, with no policy look-up each."""
        quiet_full = len(self.silent) >= self.max_devices
        out: list[tuple[str, str]] = []
        crowd: tuple[list[str], list[str]] = ([], [])  # beyond the limit: senders, silent
        for ip, sent, inventory in zip(ips, spoke, listed, strict=True):
            known = inventory or ip in self.devices or ip in self.silent
            if known or not (self.full if sent else quiet_full) or self.groups.kind(ip):
                out.append(self.labels(ip, sent))
                continue
            crowd[0 if sent else 1].append(ip)
            out.append((OTHER_LABEL, UNKNOWN))
        if crowd[0] or crowd[1]:
            self._other()
            self.overflow.add_many(crowd[0])
            self.silent_overflow.add_many(crowd[1])
        return out

    def _other(self) -> DeviceSummary:
        other = self.devices.get(OTHER_LABEL)
        if other is None:
            other = self.devices[OTHER_LABEL] = DeviceSummary(ip=OTHER_LABEL, name=OTHER_LABEL)
        return other

    def is_other(self, ip: str) -> bool:
        """Whether ``ip`` is counted under ``other`` (beyond the device limit)."""
        return ip not in self.devices and self.labels(ip)[0] == OTHER_LABEL

    def learn_mac(self, ip: str, mac: str, ts: float | None = None) -> None:
        """Remember the MAC a closed-network host sends from (first one wins; ``ts``: the
        packet time of the frame it came in, kept in ``macs_learned``; none for a MAC a
        DHCP or discovery binding gave)."""
        if ip in self.mac_decided or self.groups.kind(ip) is not None or self.is_other(ip):
            return
        self.mac_decided.add(ip)
        if not self.policy.is_closed(ip):
            return
        self.macs_learned[ip] = (math.inf if ts is None else ts, mac)
        sources = self._sources.setdefault(mac, set())
        if len(sources) < MAX_SOURCES:
            sources.add(ip)
        dev = self.get(ip)
        if dev.mac is None:
            dev.mac = mac
        oui = self.catalog.vendor_for_mac(mac)
        if dev.vendor is None:
            dev.vendor = oui
        if oui is not None:
            self._label_vendor.setdefault(ip, oui)

    def flow_labels(self, flow: FlowState) -> tuple[str, str]:
        """The (device, vendor) label values of a settling flow."""
        return self.labels(flow.device, sent_by(flow, flow.device) > 0)

    def labels(self, ip: str, sent: bool = True) -> tuple[str, str]:
        """The (device, vendor) label values for traffic of ``ip``; ``sent``: whether ``ip``
        has sent anything in the flow (a host that never did is ``silent``, no device yet).

        The vendor label is the inventory's, else the OUI's: never a later guess from
        traffic, so a device's series do not depend on when facts were summarised.
        """
        cached = self._labels.get(ip)
        if cached is not None:
            return cached
        group = self.groups.kind(ip)
        if group is not None:
            return group, UNKNOWN
        if not self.policy.is_closed(ip):
            return OUTSIDE_LABEL, UNKNOWN
        if not sent and ip not in self.devices and not self._declared(ip):
            quiet = self._quiet(ip)  # not cached: the host may speak up later
            return (SILENT_LABEL if quiet.ip == ip else OTHER_LABEL), UNKNOWN
        dev = self.get(ip)
        if dev.ip == OTHER_LABEL:  # not cached: the overflow must not grow the cache
            return OTHER_LABEL, UNKNOWN
        entry = self.policy.device_for(ip)
        vendor = (entry.vendor if entry is not None else None) or self._label_vendor.get(ip)
        labels = (dev.name or ip, vendor or UNKNOWN)
        self._labels[ip] = labels
        return labels

    def role_counts(self) -> dict[tuple[str, str], int]:
        """How many known devices there are per (vendor, role): inventory plus seen."""
        counts: dict[tuple[str, str], int] = {}
        for entry in self.policy.devices:
            if entry.ip is not None:
                self.get(entry.ip)
        for _, dev in self.counted():
            key = (dev.vendor or UNKNOWN, dev.role or UNKNOWN)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def counted(self) -> Iterator[tuple[str, DeviceSummary]]:
        """The (ip, summary) of every device ``cctv_devices`` counts: not ``other`` (it
        stands for many hosts: cctv_devices_overflow_total counts them), and an inventory
        host once, under its ``ip`` (not again under its further ``addresses``)."""
        for ip, dev in self.devices.items():
            entry = self.policy.device_for(ip) if ip != OTHER_LABEL else None
            if ip != OTHER_LABEL and (entry is None or entry.ip is None or entry.ip == ip):
                yield ip, dev

    # -- fingerprints ------------------------------------------------------------------------
    def refresh(self, prints: Fingerprinter) -> None:
        """Bring every device's facts up to date with what ``prints`` learned since last time.

        Cheap when little changed: only devices with new evidence are resolved again.
        """
        for mac, ip in prints.bindings().items():
            if ip not in self.devices and self.policy.is_closed(ip) and not never_outside(ip):
                self.learn_mac(ip, mac)
        shared = self._find_shared_macs()
        changed = prints.changed | (shared ^ self._shared_macs)
        self._shared_macs = shared
        prints.changed = set()
        for ip, dev in self.devices.items():
            if ip == OTHER_LABEL or (ip in self._resolved and not {ip, dev.mac} & changed):
                continue  # "other" stands for many hosts; nothing new about this one
            self._resolved.add(ip)
            trusted = dev.mac not in shared
            apply_facts(dev, prints.evidence(ip, dev.mac, trusted), self.policy.device_for(ip))
            if not trusted and dev.mac is not None:
                dev.evidence = ordered([*dev.evidence, _router_fact(dev.mac)])[:MAX_EVIDENCE]
            dev.services = prints.services(ip)
        self.tls_clients.apply(self.devices)

    # -- the report --------------------------------------------------------------------------
    def merged_devices(self) -> list[DeviceSummary]:
        """The devices, one host's addresses merged into one summary (see the module doc)."""
        entry_of = self.policy.device_for
        groups = merge_groups(self.devices, self._sources, self.policy.devices, entry_of)
        out: list[DeviceSummary] = []
        merged: set[str] = set()
        for ips in groups:
            dev = merge_devices([self.devices[ip] for ip in ips], entry_of)
            dev.evidence = ordered(dev.evidence)[:MAX_EVIDENCE]
            out.append(dev)
            merged.update(ips)
        out += [dev for ip, dev in self.devices.items() if ip not in merged]
        return out

    def _find_shared_macs(self) -> frozenset[str]:
        counts = Counter(
            d.mac for ip, d in self.devices.items() if d.mac and ":" not in ip
        )  # IPv4 only: one host has several IPv6 addresses
        return frozenset(mac for mac, n in counts.items() if n > SHARED_MAC_ADDRESSES)


def sent_by(flow: FlowState, addr: str) -> int:
    """Packets ``addr`` sent in ``flow``: an ICMP error about the flow comes from a router on
    the way as often as from its responder, and never makes a silent host a device; but it
    quotes a packet the originator sent, so the originator counts as having sent at least
    one even when the capture missed it."""
    if addr == flow.orig_addr:
        return max(flow.orig_pkts, 1 if flow.icmp_errors else 0)
    return flow.resp_pkts - flow.icmp_errors


def device_sent(cols: Mapping[str, npt.NDArray[Any]], slots: npt.NDArray[np.int64]) -> Any:
    """:func:`sent_by` for the device end of light-flow rows (``resp_errors``: the ICMP
    errors among ``resp_pkts``)."""
    errors = cols["resp_errors"][slots]
    resp = cols["resp_pkts"][slots] - errors
    orig = np.maximum(cols["orig_pkts"][slots], (errors > 0).astype(np.int64))
    return np.where(cols["dev_orig"][slots], orig, resp)


def _router_fact(mac: str) -> DeviceFact:
    source = f"source of frames from over {SHARED_MAC_ADDRESSES} IPv4 addresses: a router's MAC"
    return DeviceFact("router_mac", mac, source, rules.MEDIUM)
