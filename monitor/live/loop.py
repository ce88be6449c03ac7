"""The capture loop of one sensor process: capture, pipeline, evidence; health, drops and reopen.

Packet time drives the pipeline; wall-clock time drives only what must go on when no
packet arrives: about once a second the loop reads libpcap's drop counters, checks the
interface, ticks the pipeline with the wall clock when the link has been idle (so idle
flows still settle and expire), and publishes a snapshot through its hooks. A failed
handle (interface down, error) is closed and reopened every second until it works.

Under a flood every frame may start a flow, and a batch costs Python time per flow. The
loop therefore decides by the (monotonic) clock, not by a count of batches, when to stop
reading and give signals and housekeeping their turn: after WAKE_SECONDS of reading,
whatever the backlog. Batches shrink while they take longer than BATCH_SECONDS. A single
pipeline call can still take long (flows settling or ending by the hundred thousand):
its owner calls :meth:`CaptureLoop.keep_alive` from the finding callback, which publishes
a snapshot when the last one is PUBLISH_SECONDS old.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Protocol

from monitor.capture.live import (
    BATCH_MAX,
    DropCounter,
    LiveCapture,
    interface_state,
    wait_readable,
)
from monitor.counters import Snapshot
from monitor.live.evidence import EvidenceSink
from monitor.live.health import CaptureStatus
from monitor.live.names import learn_answers
from monitor.model import CaptureError
from monitor.pipeline import Pipeline

log = logging.getLogger(__name__)
HOUSEKEEPING_SECONDS = 1.0
REOPEN_SECONDS = 1.0
BATCHES_PER_WAKE = 64  # then housekeeping and signals get a turn, even under full load
WAKE_SECONDS = 0.25  # ... or after this long reading, whichever comes first
BATCH_SECONDS = 0.1  # batches shrink (down to MIN_BATCH frames) while they take longer
MIN_BATCH = 256
PUBLISH_SECONDS = 0.5  # keep_alive publishes when the last snapshot is this old
# The kernel hands packets over in small blocks: at moderate rates every wake-up would
# bring a handful of frames, and per-batch costs would dominate. After a wake-up that
# brought fewer than COALESCE_BELOW frames, let them gather for COALESCE_SECONDS.
COALESCE_BELOW = 1024
COALESCE_SECONDS = 0.01


class LoopHooks(Protocol):
    """What the owner of a loop does once a second and on every wake-up."""

    def poll(self, loop: CaptureLoop) -> None:
        """Look at signals or control messages; may call ``loop.stop()``."""

    def publish(self, snapshot: Snapshot, status: CaptureStatus, final: bool) -> None:
        """Hand on the newest snapshot and capture health (``final`` after the flush)."""


class CaptureLoop:
    """Reads one interface into one pipeline until :meth:`stop`; then flushes everything."""

    def __init__(
        self,
        pipeline: Pipeline,
        capture: LiveCapture,
        hooks: LoopHooks,
        *,
        evidence: EvidenceSink | None = None,
        names_capture: LiveCapture | None = None,
        wake_fd: int | None = None,
        interface_drops: bool = True,
        clock: Callable[[], float] = time.time,
        link_state: Callable[[str], str] = interface_state,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pipeline = pipeline
        self.capture = capture
        self.names_capture = names_capture
        self.hooks = hooks
        self.evidence = evidence
        self.wake_fd = wake_fd
        self.interface_drops = interface_drops
        self.clock = clock
        self.link_state = link_state
        self.monotonic = monotonic
        self.iface = capture.options.interface
        self.stopping = False
        self.drops = DropCounter()
        self.opened_at: float | None = None
        self.last_rx: float | None = None
        self.newest_packet_ts: float | None = None
        self._next_housekeeping = 0.0
        self._next_reopen = 0.0
        self._down_since: float | None = None
        self._warned_tunnel = False
        self.batch_frames = BATCH_MAX  # frames asked of one read; shrinks under a flood
        self._published_at = -float("inf")  # monotonic
        self._publishing = False
        c = pipeline.counters
        c.capture_packets[self.iface] += 0  # the series exist from the first scrape on
        c.capture_dropped[(self.iface, "kernel")] += 0
        c.capture_dropped[(self.iface, "interface")] += 0

    def stop(self) -> None:
        """Leave the loop at the next wake-up (safe from a signal handler)."""
        self.stopping = True

    def status(self) -> CaptureStatus:
        """The capture's health now."""
        return CaptureStatus(self.capture.is_open, self.opened_at, self.last_rx)

    def snapshot(self) -> Snapshot:
        """The pipeline's snapshot, its last-packet time from packets only.

        Idle ticks move the pipeline's clock with the wall clock; the last-packet gauge
        must not move with them, or a silent mirror port would look alive.
        """
        snap = self.pipeline.snapshot()
        snap.counters.last_packet_ts = self.newest_packet_ts
        return snap

    def start(self) -> None:
        """First open: CaptureError when the interface is missing or cannot be captured on.

        An interface that exists but is down is waited for (capture down meanwhile).
        """
        state = self.link_state(self.iface)
        if state == "missing":
            raise CaptureError(f"no such interface: {self.iface}")
        if state == "up":
            self.capture.open()
            self._opened(self.clock())
        else:
            self._down_since = self.clock()
            log.warning("interface %s is down; waiting for it", self.iface)

    def run(self) -> None:
        """Capture until stopped, then end every flow and publish the final snapshot."""
        self.start()
        self._publish(False)
        while not self.stopping:
            self.step()
        self.finish()

    def step(self) -> None:
        """One wait for packets (at most until the next housekeeping), and what follows."""
        timeout = max(0.0, self._next_housekeeping - self.monotonic())
        fds = [fd for fd in (self.wake_fd,) if fd is not None]
        capture_fd = self.capture.fileno() if self.capture.is_open else None
        names = self.names_capture
        names_fd = names.fileno() if names is not None and names.is_open else None
        fds += [fd for fd in (capture_fd, names_fd) if fd is not None]
        if fds:
            ready = wait_readable(fds, timeout)
        else:
            time.sleep(timeout)
            ready = []
        if self.wake_fd is not None and self.wake_fd in ready:
            _drain_pipe(self.wake_fd)
        if names_fd is not None and names_fd in ready:
            self._read_names()
        if capture_fd is not None and capture_fd in ready:
            frames = self._read_frames()
            if 0 < frames < COALESCE_BELOW and not self.stopping:
                time.sleep(COALESCE_SECONDS)
        self.hooks.poll(self)
        # Once stopping, finish() does what housekeeping would: an idle tick now would
        # settle a flood's flows only to delay the stop by that long.
        if not self.stopping and self.monotonic() >= self._next_housekeeping:
            self.housekeeping()

    def _read_frames(self) -> int:
        """Process what is waiting, up to BATCHES_PER_WAKE batches or WAKE_SECONDS of
        work, whichever ends first; how many frames."""
        frames = 0
        started = self.monotonic()
        for _ in range(BATCHES_PER_WAKE):
            try:
                batch = self.capture.read(self.batch_frames)
            except CaptureError as exc:
                self._lost(str(exc))
                break
            if batch is None:
                break
            frames += len(batch)
            before = self.monotonic()
            if self.names_capture is not None and self.names_capture.is_open:
                self._read_names()  # answers first: they may name a flow of this batch
            self.last_rx = self.clock()
            self.pipeline.process(batch)
            newest = float(batch.ts.max())
            if self.newest_packet_ts is None or newest > self.newest_packet_ts:
                self.newest_packet_ts = newest
            if self.evidence is not None:
                mask = self.pipeline.table.flagged_frames(self.pipeline.last_result)
                if mask is not None:
                    self.evidence.write(batch, mask)
            after = self.monotonic()
            self._size_batches(len(batch), after - before)
            if after - started >= WAKE_SECONDS or self.stopping:
                break
        return frames

    def _size_batches(self, frames: int, took: float) -> None:
        """Shrink the next reads while a batch takes longer than BATCH_SECONDS (a flood:
        Python work per flow); grow them back, up to BATCH_MAX, once batches are quick."""
        if took > BATCH_SECONDS:
            fitting = int(frames * BATCH_SECONDS / took)
            self.batch_frames = max(MIN_BATCH, min(self.batch_frames, fitting))
        elif took < BATCH_SECONDS / 2 and frames >= self.batch_frames:
            self.batch_frames = min(BATCH_MAX, self.batch_frames * 2)

    def keep_alive(self) -> None:
        """Publish a snapshot if the last one is PUBLISH_SECONDS old.

        For the owner's finding callback, which the pipeline calls from inside its work:
        a flood's flows can settle or end by the hundred thousand in one call, and the
        scrapes must not see counters that old meanwhile. Only publishes; signals and
        housekeeping wait until the pipeline call returns.
        """
        if not self._publishing and self.monotonic() >= self._published_at + PUBLISH_SECONDS:
            self._publish(False)

    def _publish(self, final: bool) -> None:
        self._publishing = True
        try:
            self._published_at = self.monotonic()
            self.hooks.publish(self.snapshot(), self.status(), final)
        finally:
            self._publishing = False

    def _read_names(self) -> None:
        assert self.names_capture is not None
        for _ in range(BATCHES_PER_WAKE):
            try:
                batch = self.names_capture.read()
            except CaptureError as exc:
                log.warning("DNS side capture: %s", exc)
                self.names_capture.close()
                return
            if batch is None:
                return
            learn_answers(self.pipeline.names, batch)

    def housekeeping(self) -> None:
        """Once a second: drops, interface state, reopen, idle tick, publish."""
        now = self.clock()
        self._poll_stats()
        if self.capture.is_open and self.link_state(self.iface) != "up":
            self._lost("interface is down")
        if not self.capture.is_open and self.monotonic() >= self._next_reopen:
            self._reopen(now)
        if self.last_rx is None or now - self.last_rx >= HOUSEKEEPING_SECONDS:
            self.pipeline.tick(now)  # idle link: wall-clock time moves the flows on
        self._publish(False)
        # The next one a second after this one ended: a tick that settled a flood's flows
        # may have taken a while, and the publication just made is fresh.
        self._next_housekeeping = self.monotonic() + HOUSEKEEPING_SECONDS
        if self.names_capture is not None and not self._warned_tunnel:
            self._warn_tunnel_with_workers()
        # Live keeps no per-flow history: findings went out through on_finding already.
        self.pipeline.findings.clear()
        self.pipeline.flagged.clear()

    def _warn_tunnel_with_workers(self) -> None:
        """Several workers share a remote mirror badly: say so once (docs/live.md)."""
        kinds = sorted({s.kind for s in self.pipeline.mirror.sessions.values()})
        if kinds:
            self._warned_tunnel = True
            log.warning(
                "the mirror on %s arrives inside a tunnel (%s): with --workers the kernel's "
                "fanout hash and the DNS side capture see only the outer headers, so flows "
                "may be split between workers and names missed; run --workers 1 "
                "(docs/live.md, 'Receiving a remote mirror')",
                self.iface,
                ", ".join(kinds),
            )

    def _poll_stats(self) -> None:
        stats = self.capture.stats()
        if stats is None:
            return
        _, kernel, interface = self.drops.update(stats)
        c = self.pipeline.counters.capture_dropped
        c[(self.iface, "kernel")] += kernel
        if self.interface_drops:
            c[(self.iface, "interface")] += interface

    def _lost(self, reason: str) -> None:
        self._poll_stats()
        self.capture.close()
        if self.names_capture is not None:
            self.names_capture.close()
        self._down_since = self.clock()
        self._next_reopen = self.monotonic() + REOPEN_SECONDS
        log.warning("capture on %s lost (%s); reopening every second", self.iface, reason)

    def _reopen(self, now: float) -> None:
        self._next_reopen = self.monotonic() + REOPEN_SECONDS
        if self.link_state(self.iface) != "up":
            return
        try:
            self.capture.open()
        except CaptureError as exc:
            log.debug("reopen failed: %s", exc)
            return
        gap = now - self._down_since if self._down_since is not None else 0.0
        log.warning("capture on %s reopened after %.1f s without capture", self.iface, gap)
        self._opened(now)

    def _opened(self, now: float) -> None:
        self.drops.reset()
        self.opened_at = now
        self._down_since = None
        if self.names_capture is not None:
            try:
                self.names_capture.open()
            except CaptureError as exc:
                log.warning("DNS side capture not available: %s", exc)

    def finish(self) -> None:
        """End every flow (findings go out), close capture and evidence, publish the last state."""
        self._poll_stats()
        self.pipeline.finish()
        self.capture.close()
        if self.names_capture is not None:
            self.names_capture.close()
        if self.evidence is not None:
            self.evidence.close()
        self._publish(True)


def _drain_pipe(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except (BlockingIOError, InterruptedError):
        pass
