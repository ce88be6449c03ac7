"""The flow table's knobs: timeouts and bounds (no numpy here, so the command line can
show their defaults without loading the packet path)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FlowSettings:
    """Timeouts (seconds of packet time) and bounds of the flow table."""

    idle_timeout: float = 120.0
    tcp_closed_timeout: float = 10.0
    active_timeout: float = 1800.0
    max_flows: int = 250_000
    head_packets: int = 12
