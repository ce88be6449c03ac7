"""Value types of an audit's coverage and provenance: what was read, and from what.

Kept apart from :mod:`monitor.model` (which holds the packet-path types) and free of
imports from the rest of the package, so any layer may use them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_GAP_THRESHOLD = 300.0  # seconds without any packet that count as a gap in the capture
MAX_GAPS_LISTED = 1000  # gaps kept in time order; all of them are counted in ``gaps_total``


@dataclass(frozen=True, slots=True)
class InterfaceDrops:
    """What a pcapng Interface Statistics Block says one capture interface received and lost.

    ``interface`` numbers the file's interfaces in file order across sections (as
    Wireshark's ``frame.interface_id`` does); ``name`` is its ``if_name`` option, if any.
    ``received`` (``isb_ifrecv``), ``ifdrop`` (``isb_ifdrop``: lost by the interface or
    its driver) and ``osdrop`` (``isb_osdrop``: lost by the operating system, e.g. a full
    capture buffer) are the counters of the last ISB for that interface, None when it did
    not record them.
    """

    interface: int
    name: str | None
    received: int | None
    ifdrop: int | None
    osdrop: int | None

    @property
    def dropped(self) -> int:
        """Packets recorded as lost, by the interface and the operating system together."""
        return (self.ifdrop or 0) + (self.osdrop or 0)

    def to_json(self, input_path: str) -> dict[str, object]:
        """The report's ``coverage.interface_drops[]`` object."""
        return {
            "input": input_path,
            "interface": self.interface,
            "name": self.name,
            "received": self.received,
            "ifdrop": self.ifdrop,
            "osdrop": self.osdrop,
        }


@dataclass(frozen=True, slots=True)
class TimeGap:
    """A stretch of packet time (UNIX seconds) in which no input had any packet."""

    start: float  # the last packet before the gap
    end: float  # the first packet after it

    @property
    def seconds(self) -> float:
        """The gap's length."""
        return self.end - self.start

    def to_json(self) -> dict[str, float]:
        """The report's ``coverage.gaps[]`` object."""
        return {"start": self.start, "end": self.end, "seconds": self.seconds}


@dataclass(slots=True)
class GapSummary:
    """The gaps longer than ``threshold`` seconds (None: not looked for)."""

    threshold: float | None = DEFAULT_GAP_THRESHOLD
    gaps: list[TimeGap] = field(default_factory=list)  # the first MAX_GAPS_LISTED, in time order
    total: int = 0  # every gap, listed or not
    seconds: float = 0.0  # their summed length
    longest: float = 0.0


@dataclass(slots=True)
class Provenance:
    """Where a report comes from: tool, catalog, policy, command line and time.

    The inputs' own provenance (path, size, SHA-256, format, first and last packet time)
    lives in their :class:`monitor.model.InputSummary`; ``evidence_*`` describe the
    ``--evidence`` pcap once it is written (None without one).
    """

    tool_version: str
    catalog_version: str
    policy_path: str | None  # None: the built-in default policy
    policy_sha256: str | None
    generated: str  # UTC, ISO 8601 (``2026-12-04T21:30:00Z``)
    command_line: list[str]
    evidence_path: str | None = None
    evidence_sha256: str | None = None
    evidence_packets: int | None = None
