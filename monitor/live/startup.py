"""Capture first: the sensor's sockets are open, sized and joined before anything slow.

``live`` opens its capture handles before it loads the vendor catalog, builds its
pipelines or starts worker processes: from then on frames wait in the kernel buffers
(64 MiB each by default) instead of passing by unseen. With ``--workers N`` the parent
opens all N fanout handles one right after the other, so that the group has its N members
before any worker reads (a member joining later would move flows from one worker to
another), and N DNS side captures; it then forks the workers, each of which inherits its
own pair and closes the others, and closes its own copies. Until they read, the frames
of each worker's share wait in its buffer.

An interface that is down at start cannot be opened: the capture loops then wait for it
and open their handles themselves when it comes up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from monitor.capture.filtered_socket import FilteredSocketCapture
from monitor.capture.live import CaptureOptions, LiveCapture, interface_state
from monitor.live.names import DNS_RESPONSES_BPF
from monitor.model import CaptureError

log = logging.getLogger(__name__)
NAMES_BUFFER_BYTES = 4 << 20


@dataclass(slots=True)
class Handles:
    """One worker's captures: its share of the interface, and the DNS side capture."""

    capture: LiveCapture
    names: LiveCapture | None = None

    def open(self) -> None:
        """Open both (CaptureError when the main capture cannot be; a side capture that
        cannot be is logged and left closed: the loop tries again at every reopen)."""
        self.capture.open()
        if self.names is not None:
            try:
                self.names.open()
            except CaptureError as exc:
                log.warning("DNS side capture not available: %s", exc)

    def close(self) -> None:
        """Close both (idempotent)."""
        self.capture.close()
        if self.names is not None:
            self.names.close()


def worker_handles(options: CaptureOptions, group: int | None) -> Handles:
    """The (unopened) captures of one worker of fanout ``group`` (None: a single process,
    which sees every DNS answer on its own handle)."""
    capture = LiveCapture(replace(options, fanout_group=group))
    if group is None:
        return Handles(capture)
    names = replace(options, buffer_bytes=NAMES_BUFFER_BYTES, fanout_group=None)
    return Handles(capture, FilteredSocketCapture(names, DNS_RESPONSES_BPF))


def open_early(handles: list[Handles]) -> bool:
    """Open every handle now if the interface is up; False (nothing opened) when it is down.

    CaptureError when the interface does not exist or cannot be captured on; then no
    handle stays open.
    """
    if not handles:
        return False
    iface = handles[0].capture.options.interface
    state = interface_state(iface)
    if state == "missing":
        raise CaptureError(f"no such interface: {iface}")
    if state != "up":
        return False
    try:
        for h in handles:
            h.open()
    except CaptureError:
        for h in handles:
            h.close()
        raise
    return True
