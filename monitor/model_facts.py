"""What the traffic and the inventory say about a device: facts and their conflicts.

Kept apart from :mod:`monitor.model` (which re-exports them) so that module stays small.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DeviceFact:
    """One thing learned about a device, where from and how sure (``devices[].evidence``).

    ``fact`` is vendor, model, firmware, serial, mac, role or hostname; ``confidence`` is
    ``declared`` (the site inventory), ``high``, ``medium`` or ``low``.
    """

    fact: str
    value: str
    source: str
    confidence: str

    def to_json(self) -> dict[str, str]:
        """The report's JSON object for this fact."""
        return {
            "fact": self.fact,
            "value": self.value,
            "source": self.source,
            "confidence": self.confidence,
        }


@dataclass(frozen=True, slots=True)
class FactConflict:
    """The inventory says one thing, the traffic another (``devices[].conflicts``)."""

    fact: str
    inventory: str
    observed: str
    source: str
    confidence: str

    def to_json(self) -> dict[str, str]:
        """The report's JSON object for this disagreement."""
        return {
            "fact": self.fact,
            "inventory": self.inventory,
            "observed": self.observed,
            "source": self.source,
            "confidence": self.confidence,
        }
