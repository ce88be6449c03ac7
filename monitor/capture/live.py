"""Live capture from a network interface with libpcap: receive-only, batched, non-blocking.

The handle is opened with :func:`pcapy.create` (promiscuous, a large kernel buffer, both
directions), put in non-blocking mode and waited on with ``select`` on its descriptor: a
blocking ``next_batch`` ignores the read timeout on an idle link. ``next_batch`` hands
over up to 4,096 frames per call as one buffer plus packed (sec, usec, offset, caplen)
records, which become a :class:`FrameBatch` without a per-packet Python step. It does not
report wire lengths; they are left 0 and rebuilt from the IP header by the decoder.

Nothing here transmits: no ``sendpacket``, no inject, no socket of its own.

Kernel filter. The contract counts every packet and byte per device and verdict, so the
only kernel filter is the operator's ``--bpf``: a filter derived from the site policy
could only drop packets that must be counted (the bulk video between closed-network
hosts is exactly what the per-verdict counters measure). Bulk stays cheap because it is
aggregated per flow per batch with numpy, never because it is filtered away.
"""

from __future__ import annotations

import logging
import select
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.capture.allocator import tune_allocator
from monitor.model import CaptureError, FrameBatch

try:
    import pcapy  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - pcapy-ng is a declared dependency
    pcapy = None  # type: ignore[assignment,unused-ignore]

log = logging.getLogger(__name__)

DEFAULT_SNAPLEN = 1600
DEFAULT_BUFFER_BYTES = 64 << 20
BATCH_MAX = 4096
READ_TIMEOUT_MS = 100
IFF_UP = 0x1
SYS_NET = Path("/sys/class/net")
ACTIVATE_ERRORS = {  # pcap_activate()'s negative results
    -5: "no such device",
    -8: "permission denied: capturing needs CAP_NET_RAW (or root)",
    -9: "the interface is not up",
    -11: "permission denied for promiscuous mode",
}


@dataclass(frozen=True, slots=True)
class CaptureOptions:
    """How to open one capture handle on ``interface``."""

    interface: str
    snaplen: int = DEFAULT_SNAPLEN
    buffer_bytes: int = DEFAULT_BUFFER_BYTES
    bpf: str | None = None
    promiscuous: bool = True
    fanout_group: int | None = None
    timeout_ms: int = READ_TIMEOUT_MS  # how long a partly filled kernel block may wait


def compose_filter(*parts: str | None) -> str | None:
    """The AND of the non-empty BPF expressions (each in parentheses), None when none."""
    exprs = [p.strip() for p in parts if p and p.strip()]
    if not exprs:
        return None
    if len(exprs) == 1:
        return exprs[0]
    return " and ".join(f"({e})" for e in exprs)


def check_filter(expr: str | None, snaplen: int = DEFAULT_SNAPLEN) -> None:
    """Raise CaptureError when ``expr`` is not a valid BPF expression (for Ethernet)."""
    if not expr or pcapy is None:
        return
    try:
        pcapy.compile(pcapy.DLT_EN10MB, snaplen, expr, 1, 0xFFFFFFFF)
    except pcapy.PcapError as exc:
        raise CaptureError(f"bad --bpf expression {expr!r}: {exc}") from exc


def interface_state(name: str, root: Path = SYS_NET) -> str:
    """``"up"``, ``"down"`` (administratively) or ``"missing"``, from sysfs (no socket)."""
    try:
        flags = int((root / name / "flags").read_text(encoding="ascii").strip(), 16)
    except (OSError, ValueError):
        return "missing"
    return "up" if flags & IFF_UP else "down"


class LiveCapture:
    """One libpcap handle on one interface; :meth:`open` again after an error."""

    def __init__(self, options: CaptureOptions) -> None:
        self.options = options
        self._handle: object | None = None
        self.linktype = 1
        self._baseline = (0, 0, 0)  # libpcap's counters when the handle began to capture

    @property
    def is_open(self) -> bool:
        """True while a handle is open."""
        return self._handle is not None

    def open(self) -> None:
        """Open and activate the handle (kept as it is when already open); CaptureError
        when it cannot be.

        With a fanout group the handle joins it right after activation, before anything
        else: until it joins, the kernel hands it every frame, not its share.
        """
        if self._handle is not None:
            return
        if pcapy is None:
            raise CaptureError("pcapy-ng is not installed: live capture needs it")
        tune_allocator()  # reuse the ~5 MB batch buffers instead of mapping fresh pages
        o = self.options
        try:
            h = pcapy.create(o.interface)
            h.set_snaplen(o.snaplen)
            h.set_promisc(o.promiscuous)
            h.set_timeout(o.timeout_ms)
            h.set_buffer_size(o.buffer_bytes)
            immediate = getattr(h, "set_immediate_mode", None)
            if immediate is not None:
                immediate(True)
            status = h.activate()  # pcapy returns libpcap's errors instead of raising them
            if isinstance(status, int) and status < 0:
                why = ACTIVATE_ERRORS.get(status, f"libpcap error {status}")
                raise CaptureError(f"cannot capture on {o.interface}: {why}")
            self._configure(h)
        except pcapy.PcapError as exc:
            raise CaptureError(f"cannot capture on {o.interface}: {exc}") from exc
        self._handle = h
        self.linktype = int(h.datalink())
        # The counters start now. Until its buffer existed (and, in a fanout group, until it
        # joined) the socket took every frame into a small queue, dropped what did not fit
        # and then discarded the rest: frames from before the capture began, or the other
        # members' frames, which they count. None of that is a drop of this capture.
        self._baseline = (0, 0, 0)
        self._baseline = self.stats() or (0, 0, 0)

    def _configure(self, h: object) -> None:
        o = self.options
        if o.fanout_group is not None:
            h.set_fanout(o.fanout_group, pcapy.PACKET_FANOUT_HASH)  # type: ignore[attr-defined]
        h.setdirection(pcapy.PCAP_D_INOUT)  # type: ignore[attr-defined]
        if o.bpf:
            h.setfilter(o.bpf)  # type: ignore[attr-defined]
        h.setnonblock(True)  # type: ignore[attr-defined]

    def fileno(self) -> int:
        """The selectable descriptor of the open handle."""
        if self._handle is None:
            raise CaptureError(f"capture on {self.options.interface} is not open")
        return int(self._handle.getfd())  # type: ignore[attr-defined]

    def read(self, max_n: int = BATCH_MAX) -> FrameBatch | None:
        """The frames waiting now (up to ``max_n``), None when there are none.

        CaptureError when the handle failed (for example: the interface went down).
        """
        if self._handle is None:
            return None
        try:
            buf, meta = self._handle.next_batch(max_n)  # type: ignore[attr-defined]
        except pcapy.PcapError as exc:
            raise CaptureError(f"capture on {self.options.interface} failed: {exc}") from exc
        if not meta:
            return None
        return frames_from_batch(buf, meta, self.linktype)

    def stats(self) -> tuple[int, int, int] | None:
        """libpcap's (received, dropped by the kernel, dropped by the interface) since the
        handle began to capture, or None."""
        if self._handle is None:
            return None
        try:
            recv, drop, ifdrop = self._handle.stats()  # type: ignore[attr-defined]
        except pcapy.PcapError:
            return None
        now = (int(recv), int(drop), int(ifdrop))
        r, d, i = (max(n - b, 0) for n, b in zip(now, self._baseline, strict=True))
        return r, d, i

    def close(self) -> None:
        """Close the handle (idempotent)."""
        h, self._handle = self._handle, None
        if h is not None:
            try:
                h.close()  # type: ignore[attr-defined]
            except pcapy.PcapError:  # pragma: no cover - closing a failed handle
                log.debug("closing the capture handle failed", exc_info=True)


def frames_from_batch(buf: bytes, meta: bytes, linktype: int) -> FrameBatch:
    """A ``next_batch`` result as a FrameBatch (wire lengths unknown: 0)."""
    m = np.frombuffer(meta, dtype=np.uint32).reshape(-1, 4)
    ts = m[:, 0].astype(np.float64) + m[:, 1].astype(np.float64) * 1e-6
    offset = m[:, 2].astype(np.int64)
    caplen = m[:, 3].astype(np.int64)
    wirelen = np.zeros(len(m), dtype=np.int64)
    return FrameBatch(buf, ts, offset, caplen, wirelen, linktype)


def wait_readable(fds: Sequence[int], timeout: float) -> list[int]:
    """The descriptors of ``fds`` that are readable (or failed) within ``timeout`` seconds."""
    if not fds:
        return []
    try:
        ready, _, failed = select.select(list(fds), [], list(fds), max(timeout, 0.0))
    except (OSError, ValueError):  # a descriptor closed under us: let the caller re-check
        return list(fds)
    return sorted(set(ready) | set(failed))


class DropCounter:
    """Running totals of libpcap's drop counters, robust to their reset on reopen."""

    def __init__(self) -> None:
        self._last = (0, 0, 0)

    def reset(self) -> None:
        """A new handle starts counting from zero."""
        self._last = (0, 0, 0)

    def update(self, stats: tuple[int, int, int]) -> tuple[int, int, int]:
        """The (received, kernel, interface) increments since the previous call."""
        deltas = tuple(
            now - before if now >= before else now
            for now, before in zip(stats, self._last, strict=True)
        )
        self._last = stats
        return deltas[0], deltas[1], deltas[2]
