"""Capture health: is the handle open, and did a packet arrive lately (``cctv_capture_up``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_STALE_AFTER = 60.0


@dataclass(frozen=True, slots=True)
class CaptureStatus:
    """One capture handle as of wall-clock time: open or not, when opened, last arrival."""

    open: bool = False
    opened_at: float | None = None
    last_rx: float | None = None

    def up(self, now: float, stale_after: float = DEFAULT_STALE_AFTER) -> bool:
        """Open, and a packet arrived within ``stale_after`` seconds of ``now``.

        A freshly opened handle gets the same grace: it is up until ``stale_after``
        seconds pass without a single packet.
        """
        if not self.open:
            return False
        newest = max((t for t in (self.last_rx, self.opened_at) if t is not None), default=None)
        return newest is not None and now - newest <= stale_after


def combine(statuses: Iterable[CaptureStatus]) -> CaptureStatus:
    """One status for the handles of several workers on one interface.

    Open only when every handle is open (a closed one means a share of the flows is
    not watched); the newest arrival of any of them.
    """
    items = list(statuses)
    if not items:
        return CaptureStatus()
    opened = [s.opened_at for s in items if s.opened_at is not None]
    arrivals = [s.last_rx for s in items if s.last_rx is not None]
    return CaptureStatus(
        open=all(s.open for s in items),
        opened_at=max(opened) if opened else None,
        last_rx=max(arrivals) if arrivals else None,
    )
