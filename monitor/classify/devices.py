"""What we know about each closed-network host: inventory entry, MAC, vendor, traffic.

Traffic gives guesses (see :mod:`monitor.classify.fingerprint`), the inventory gives
declarations: :meth:`DeviceBook.refresh` resolves each fact (vendor, model, firmware,
serial, role, host name) from the evidence by weight, lets the site inventory win, and
records where the inventory and the traffic disagree.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field

from monitor.classify import device_rules as rules
from monitor.classify.catalog import VendorCatalog
from monitor.classify.distinct import DistinctCount
from monitor.classify.fingerprint import Fingerprinter
from monitor.classify.networks import never_outside
from monitor.config import DeviceEntry, Policy
from monitor.model import DeviceFact, DeviceSummary, FactConflict

OUTSIDE_LABEL = "outside"
OTHER_LABEL = "other"  # closed-network hosts beyond the device limit, counted together
MAX_DEVICES = 1024  # hosts tracked on their own besides the inventory
UNKNOWN = "unknown"
RESOLVED = ("vendor", "model", "firmware", "serial", "role", "hostname")
INVENTORY_FACTS = ("vendor", "model", "firmware", "serial", "role", "mac")
MAX_EVIDENCE = 32
SHARED_MAC_ADDRESSES = 4  # a MAC sending for more IPv4 addresses is a router's
_FACT_ORDER = {f: i for i, f in enumerate((*RESOLVED, "mac", "software"))}
_CONF_ORDER = {c: i for i, c in enumerate((rules.DECLARED, rules.HIGH, rules.MEDIUM, rules.LOW))}


@dataclass(slots=True)
class DeviceBook:
    """Every closed-network host seen, with the labels its metrics carry.

    Label values are bounded: a device is named by its inventory name, else by its IP,
    which lies in the closed networks; anything else is the single label ``outside``.
    Hosts outside the inventory are tracked one by one up to ``max_devices`` (first seen,
    first kept); the ones after that are counted together as the device ``other``
    (``overflow`` counts them), so a spoofed flood cannot grow the book or the labels.
    """

    policy: Policy
    catalog: VendorCatalog
    max_devices: int = MAX_DEVICES
    devices: dict[str, DeviceSummary] = field(default_factory=dict)
    overflow: DistinctCount = field(default_factory=DistinctCount)
    _tracked: int = 0  # devices outside the inventory with a summary of their own
    _labels: dict[str, tuple[str, str]] = field(default_factory=dict)
    _mac_done: set[str] = field(default_factory=set)
    _label_vendor: dict[str, str] = field(default_factory=dict)  # inventory, else first OUI
    _resolved: set[str] = field(default_factory=set)
    _shared_macs: frozenset[str] = frozenset()

    def get(self, ip: str) -> DeviceSummary:
        """The summary for ``ip``, created (from the inventory when listed) on first use;
        the shared ``other`` summary for a host beyond the device limit."""
        dev = self.devices.get(ip)
        if dev is None:
            entry = self.policy.device_for(ip)
            if entry is None:
                if self._tracked >= self.max_devices:
                    self.overflow.add(ip)
                    return self._other()
                self._tracked += 1
            dev = DeviceSummary(ip=ip)
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

    @property
    def full(self) -> bool:
        """Whether a new host outside the inventory would be counted as ``other``."""
        return self._tracked >= self.max_devices

    def overflow_many(self, ips: list[str]) -> tuple[str, str]:
        """Count hosts known to be outside the inventory while the book is full; their
        (device, vendor) labels."""
        self._other()
        self.overflow.add_many(ips)
        return OTHER_LABEL, UNKNOWN

    def _other(self) -> DeviceSummary:
        other = self.devices.get(OTHER_LABEL)
        if other is None:
            other = self.devices[OTHER_LABEL] = DeviceSummary(ip=OTHER_LABEL, name=OTHER_LABEL)
        return other

    def is_other(self, ip: str) -> bool:
        """Whether ``ip`` is counted under ``other`` (beyond the device limit)."""
        return ip not in self.devices and self.labels(ip)[0] == OTHER_LABEL

    def learn_mac(self, ip: str, mac: str) -> None:
        """Remember the MAC a closed-network host sends from (first one wins)."""
        if ip in self._mac_done or self.is_other(ip):
            return
        self._mac_done.add(ip)
        if not self.policy.is_closed(ip):
            return
        dev = self.get(ip)
        if dev.mac is None:
            dev.mac = mac
        oui = self.catalog.vendor_for_mac(mac)
        if dev.vendor is None:
            dev.vendor = oui
        if oui is not None:
            self._label_vendor.setdefault(ip, oui)

    def labels(self, ip: str) -> tuple[str, str]:
        """The (device, vendor) label values for traffic of ``ip``.

        The vendor label is the inventory's, else the OUI's: never a later guess from
        traffic, so a device's series do not depend on when facts were summarised.
        """
        cached = self._labels.get(ip)
        if cached is not None:
            return cached
        if not self.policy.is_closed(ip):
            return OUTSIDE_LABEL, UNKNOWN
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
        for dev in self.devices.values():
            if dev.ip == OTHER_LABEL:
                continue  # stands for many hosts: cctv_devices_overflow_total counts them
            key = (dev.vendor or UNKNOWN, dev.role or UNKNOWN)
            counts[key] = counts.get(key, 0) + 1
        return counts

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
            if ip in self._resolved and ip not in changed and dev.mac not in changed:
                continue
            self._resolved.add(ip)
            if _group_address(ip):
                continue  # a multicast group or broadcast address is no device to fingerprint
            trusted = dev.mac not in shared
            apply_facts(dev, prints.evidence(ip, dev.mac, trusted), self.policy.device_for(ip))
            dev.services = prints.services(ip)

    def _find_shared_macs(self) -> frozenset[str]:
        counts = Counter(
            d.mac for ip, d in self.devices.items() if d.mac and ":" not in ip
        )  # IPv4 only: one host has several IPv6 addresses
        return frozenset(mac for mac, n in counts.items() if n > SHARED_MAC_ADDRESSES)


def _group_address(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return True
    return addr.is_multicast or ip == "255.255.255.255"


def resolve(evidence: list[DeviceFact], name: str) -> tuple[str, DeviceFact] | None:
    """The value of fact ``name`` with the most weight behind it, and its strongest source."""
    scores: dict[str, int] = {}
    best: dict[str, DeviceFact] = {}
    for f in evidence:
        if f.fact != name:
            continue
        key = f.value.lower()
        scores[key] = scores.get(key, 0) + rules.WEIGHT.get(f.confidence, 1)
        if key not in best or rules.WEIGHT[f.confidence] > rules.WEIGHT[best[key].confidence]:
            best[key] = f
    if not scores:
        return None
    order = rules.ROLE_TIE_ORDER if name == "role" else ()

    def rank(key: str) -> tuple[int, int]:
        return scores[key], -(order.index(key) if key in order else len(order))

    top = max(scores, key=rank)
    return best[top].value, best[top]


def _derived(evidence: list[DeviceFact]) -> list[DeviceFact]:
    """Role from the model's naming once vendor and model are known."""
    vendor, model = resolve(evidence, "vendor"), resolve(evidence, "model")
    if model is None:
        return []
    role = rules.role_for_model(vendor[0] if vendor else None, model[0])
    return rules.collect(rules.fact("role", role, f"model naming {model[0]!r}", rules.MEDIUM))


def apply_facts(dev: DeviceSummary, evidence: list[DeviceFact], entry: DeviceEntry | None) -> None:
    """Set ``dev``'s facts from ``evidence``; inventory values win, disagreements recorded."""
    evidence = evidence + _derived(evidence)
    guesses = {name: resolve(evidence, name) for name in RESOLVED}
    declared: list[DeviceFact] = []
    conflicts: list[FactConflict] = []
    for name, guess in guesses.items():
        value = getattr(entry, name, None) if entry is not None and name != "hostname" else None
        if value is not None:
            declared.append(DeviceFact(name, str(value), "site inventory", rules.DECLARED))
            if guess is not None and guess[0].lower() != str(value).lower():
                conflicts.append(_conflict(name, str(value), guess[0], evidence))
        setattr(dev, name, value if value is not None else guess[0] if guess else None)
    if entry is not None and entry.mac is not None:
        declared.append(DeviceFact("mac", entry.mac, "site inventory", rules.DECLARED))
    for f in evidence:
        if f.fact == "mac" and entry is not None and entry.mac and f.value != entry.mac:
            conflicts.append(FactConflict("mac", entry.mac, f.value, f.source, f.confidence))
            break
    if dev.mac is None:
        mac = resolve(evidence, "mac")
        dev.mac = mac[0] if mac else None
    dev.evidence = (declared + _ordered(evidence))[:MAX_EVIDENCE]
    dev.conflicts = conflicts


def _conflict(name: str, declared: str, observed: str, evidence: list[DeviceFact]) -> FactConflict:
    """The traffic's value for ``name`` against the inventory's, with its three best sources."""
    support = _ordered(
        [f for f in evidence if f.fact == name and f.value.lower() == observed.lower()]
    )
    sources = "; ".join(f.source for f in support[:3])
    return FactConflict(name, declared, observed, sources, support[0].confidence)


def _ordered(evidence: list[DeviceFact]) -> list[DeviceFact]:
    unique = list(dict.fromkeys(evidence))
    return sorted(
        unique,
        key=lambda f: (_FACT_ORDER.get(f.fact, 99), _CONF_ORDER.get(f.confidence, 9)),
    )
