"""The TLS client fingerprints each closed-network device sends, and when they change.

A device's fingerprints are counted per JA4 (the JA3 first sent with it is kept beside
it: a client that shuffles its extensions sends many JA3 for one JA4). A *change* is a
JA4 a device first sends after it had used another one for a while: at least
``ESTABLISHED_FLOWS`` ClientHellos with it, the first of them at least
``ESTABLISHED_SECONDS`` earlier. Fingerprints a device sends from the start (within
that while) are its stacks, not a change; a new TLS library after a firmware update, or
a second program on the device, is. A change becomes a fact conflict of the device
(``tls_client_fingerprint``, what it used before against what came), saying whether the
earlier fingerprint was still used after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from monitor.model import DeviceSummary, FactConflict, TlsClientPrint

FACT = "tls_client_fingerprint"
ESTABLISHED_FLOWS = 3
ESTABLISHED_SECONDS = 600.0
MAX_PRINTS = 16  # JA4s listed per device
MAX_CHANGES = 4  # changes kept per device
MAX_CLIENTS = 8192  # devices tracked
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Change:
    """JA4 ``new`` first sent at ``ts`` by a device that had used ``old`` ``flows`` times
    since ``old_first``."""

    new: str
    ts: float
    old: str
    flows: int
    old_first: float


@dataclass(slots=True)
class DevicePrints:
    """One device's fingerprints by JA4, and the changes among them."""

    prints: dict[str, TlsClientPrint] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)

    def add(self, ts: float, ja4: str, ja3: str) -> bool:
        """Count one ClientHello; False when the device already has MAX_PRINTS others."""
        seen = self.prints.get(ja4)
        if seen is not None:
            seen.flows += 1
            seen.first_ts = min(seen.first_ts, ts)
            seen.last_ts = max(seen.last_ts, ts)
            return True
        if len(self.prints) >= MAX_PRINTS:
            return False
        established = [
            p
            for p in self.prints.values()
            if p.flows >= ESTABLISHED_FLOWS and ts - p.first_ts >= ESTABLISHED_SECONDS
        ]
        if established and len(self.changes) < MAX_CHANGES:
            old = max(established, key=lambda p: p.flows)
            self.changes.append(Change(ja4, ts, old.ja4, old.flows, old.first_ts))
        self.prints[ja4] = TlsClientPrint(ja4, ja3, 1, ts, ts)
        return True

    def conflicts(self) -> list[FactConflict]:
        """The changes as fact conflicts: ``inventory`` is what the device used before."""
        out = []
        for c in self.changes:
            old = self.prints[c.old]
            went_on = "still used after it" if old.last_ts > c.ts else "not used after it"
            source = (
                f"TLS ClientHello: JA4 {c.new} first sent {_iso(c.ts)}, after {c.flows} "
                f"ClientHellos since {_iso(c.old_first)} with JA4 {c.old} ({went_on})"
            )
            out.append(FactConflict(FACT, c.old, c.new, source, "medium"))
        return out


def tracked(
    clients: dict[str, T], ip: str, is_closed: Callable[[str], bool], new: Callable[[], T]
) -> T | None:
    """Client ``ip``'s entry in ``clients``, a ``new()`` one for a closed-network client
    while fewer than MAX_CLIENTS are tracked; None otherwise (when full, the caller counts
    the ClientHello as dropped)."""
    entry = clients.get(ip)
    if entry is None and len(clients) < MAX_CLIENTS and is_closed(ip):
        entry = clients[ip] = new()
    return entry


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class TlsClients:
    """Fingerprints per closed-network client address (``is_closed`` says which)."""

    is_closed: Callable[[str], bool]
    clients: dict[str, DevicePrints] = field(default_factory=dict)
    dropped: int = 0  # ClientHellos not counted: devices or fingerprints beyond the bounds

    def add(self, ts: float, ip: str, ja4: str, ja3: str) -> None:
        """One ClientHello sent by ``ip`` (the inspector's hook)."""
        prints = tracked(self.clients, ip, self.is_closed, DevicePrints)
        if prints is None:
            self.dropped += len(self.clients) >= MAX_CLIENTS
            return
        if not prints.add(ts, ja4, ja3):
            self.dropped += 1

    def apply(self, devices: Mapping[str, DeviceSummary]) -> None:
        """Set the devices' ``tls_fingerprints`` (most used first) and their change
        conflicts (replacing the ones set before)."""
        for ip, prints in self.clients.items():
            dev = devices.get(ip)
            if dev is None:
                continue
            dev.tls_fingerprints = sorted(
                (TlsClientPrint(p.ja4, p.ja3, p.flows, p.first_ts, p.last_ts)
                 for p in prints.prints.values()),
                key=lambda p: (-p.flows, p.first_ts, p.ja4),  # ties: by name, not by order
            )  # fmt: skip
            kept = [c for c in dev.conflicts if c.fact != FACT]
            dev.conflicts = kept + prints.conflicts()
