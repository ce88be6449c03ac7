"""What we know about each closed-network host: inventory entry, MAC, vendor, traffic."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.classify.catalog import VendorCatalog
from monitor.config import Policy
from monitor.model import DeviceSummary

OUTSIDE_LABEL = "outside"
UNKNOWN = "unknown"


@dataclass(slots=True)
class DeviceBook:
    """Every closed-network host seen, with the labels its metrics carry.

    Label values are bounded: a device is named by its inventory name, else by its IP,
    which lies in the closed networks; anything else is the single label ``outside``.
    """

    policy: Policy
    catalog: VendorCatalog
    devices: dict[str, DeviceSummary] = field(default_factory=dict)
    _labels: dict[str, tuple[str, str]] = field(default_factory=dict)
    _mac_done: set[str] = field(default_factory=set)

    def get(self, ip: str) -> DeviceSummary:
        """The summary for ``ip``, created (from the inventory when listed) on first use."""
        dev = self.devices.get(ip)
        if dev is None:
            entry = self.policy.device_for(ip)
            dev = DeviceSummary(ip=ip)
            if entry is not None:
                dev.name = entry.name
                dev.vendor = entry.vendor
                dev.role = entry.role
                dev.mac = entry.mac
            self.devices[ip] = dev
        return dev

    def learn_mac(self, ip: str, mac: str) -> None:
        """Remember the MAC a closed-network host sends from (first one wins)."""
        if ip in self._mac_done:
            return
        self._mac_done.add(ip)
        if not self.policy.is_closed(ip):
            return
        dev = self.get(ip)
        if dev.mac is None:
            dev.mac = mac
        if dev.vendor is None:
            dev.vendor = self.catalog.vendor_for_mac(mac)

    def labels(self, ip: str) -> tuple[str, str]:
        """The (device, vendor) label values for traffic of ``ip``."""
        cached = self._labels.get(ip)
        if cached is not None:
            return cached
        if not self.policy.is_closed(ip):
            return OUTSIDE_LABEL, UNKNOWN
        dev = self.get(ip)
        labels = (dev.name or ip, dev.vendor or UNKNOWN)
        self._labels[ip] = labels
        return labels

    def role_counts(self) -> dict[tuple[str, str], int]:
        """How many known devices there are per (vendor, role): inventory plus seen."""
        counts: dict[tuple[str, str], int] = {}
        for entry in self.policy.devices:
            if entry.ip is not None:
                self.get(entry.ip)
        for dev in self.devices.values():
            key = (dev.vendor or UNKNOWN, dev.role or UNKNOWN)
            counts[key] = counts.get(key, 0) + 1
        return counts
