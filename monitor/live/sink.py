"""A file of JSON lines that outlives a full disk: whole lines, a bounded wait, exact losses.

Every line goes to the kernel whole in one ``os.write`` on an ``O_APPEND`` descriptor
(:func:`~monitor.capture.durable.append_whole`): a line is in the file whole or not at
all, also when the disk fills in the middle of it or the process dies. A torn last line
left by a crash is removed when the file is opened.

When a write fails (disk full, I/O error) the line waits in memory, and so do the lines
after it, in order. Every RETRY_SECONDS the owner's timer (:meth:`LineSink.retry`, from
the capture loop's housekeeping) tries again; once space returns the waiting lines are
written, oldest first. The wait is bounded by ``max_lines`` and ``max_bytes``: when it is
full, the *newest* line is the one dropped. The oldest lines are kept because they are
the first sighting of each finding key (the throttle writes a key at most once per
window, so its first line is the one that says when a device first crossed the
boundary); the findings metrics count every finding either way.

Everything is counted: ``write_errors`` (failed write calls, retries included),
``lost_lines`` and ``lost_weight`` (the findings those lines stood for), ``written``.
The log says when writing fails, how much is waiting and lost once a minute while it
lasts, and when it recovers.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections import deque
from collections.abc import Callable

from monitor.capture.durable import AppendError, append_whole, open_append, repair_line_tail

log = logging.getLogger(__name__)
MAX_WAITING_LINES = 10_000
MAX_WAITING_BYTES = 16 << 20
RETRY_SECONDS = 1.0
REPORT_SECONDS = 60.0  # while writes fail, a log line at most this often
CHUNK_BYTES = 1 << 20  # waiting lines go out in appends of at most this size


class LineSink:
    """Appends lines to ``path``; holds them back (bounded) while writes fail.

    ``clock`` is a monotonic clock (injected by tests). ``name`` is what log lines call
    the file (``alert log``). At most ``max_lines`` lines and ``max_bytes`` bytes wait
    (default MAX_WAITING_LINES and MAX_WAITING_BYTES).
    """

    def __init__(
        self,
        path: str,
        name: str,
        *,
        max_lines: int | None = None,
        max_bytes: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.name = name
        self.max_lines = MAX_WAITING_LINES if max_lines is None else max(int(max_lines), 0)
        self.max_bytes = MAX_WAITING_BYTES if max_bytes is None else max(int(max_bytes), 0)
        self.clock = clock
        self.written = 0
        self.write_errors = 0
        self.lost_lines = 0
        self.lost_weight = 0
        self._waiting: deque[tuple[bytes, int]] = deque()
        self._waiting_bytes = 0
        self._next_retry = 0.0
        self._outage = Outage(f"{name} {path}", clock)
        self._lost_before = (0, 0)  # lost_lines, lost_weight when writes started failing
        self._fd: int | None = open_append(path)
        try:
            repair_line_tail(self._fd, f"{name} {path}")
        except OSError as exc:
            log.error("%s %s: could not check its last line: %s", name, path, exc)

    @property
    def waiting(self) -> int:
        """Lines held in memory until a write succeeds."""
        return len(self._waiting)

    def put(self, line: bytes, weight: int = 1) -> None:
        """Append one line (ending in a newline) that stands for ``weight`` findings."""
        if self._fd is None:
            self._lose(1, weight)
            return
        if self._waiting:
            self.retry()  # if the timer says so: what waits goes first
        if self._waiting:
            self._wait(line, weight)
            return
        try:
            append_whole(self._fd, line)
        except OSError as exc:
            self._wait(line, weight)
            self._failed(exc)
            return
        self.written += 1

    def retry(self, force: bool = False) -> None:
        """Write what waits if RETRY_SECONDS have passed since the last failure (or ``force``)."""
        if not self._waiting or self._fd is None:
            return
        if not force and self.clock() < self._next_retry:
            return
        while self._waiting:
            lines: list[bytes] = []
            ends: list[int] = []
            total = 0
            for line, _ in self._waiting:
                if lines and total + len(line) > CHUNK_BYTES:
                    break
                lines.append(line)
                total += len(line)
                ends.append(total)
            try:
                append_whole(self._fd, b"".join(lines), ends)
            except AppendError as exc:
                self._sent(exc.kept)
                self._failed(exc)
                return
            except OSError as exc:
                self._failed(exc)
                return
            self._sent(len(lines))
        lines_lost = self.lost_lines - self._lost_before[0]
        weight_lost = self.lost_weight - self._lost_before[1]
        self._outage.recovered(
            f"the lines that waited are written; {lines_lost} lost meanwhile "
            f"({weight_lost} findings)"
        )

    def close(self) -> None:
        """One last try for what waits, then count the rest as lost; sync and close."""
        fd = self._fd
        if fd is None:
            return
        self.retry(force=True)
        if self._waiting:
            weight = sum(w for _, w in self._waiting)
            log.error(
                "%s %s: %d lines (%d findings) could not be written before the stop: lost",
                self.name, self.path, len(self._waiting), weight,
            )  # fmt: skip
            self._lose(len(self._waiting), weight)
            self._waiting.clear()
            self._waiting_bytes = 0
        self._fd = None
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):  # a pipe or terminal has nothing to sync
                os.fsync(fd)
        except OSError as exc:
            self.write_errors += 1
            log.error("%s %s: %s", self.name, self.path, exc)
        os.close(fd)

    def summary(self) -> str:
        """What reached the file and what was lost, for the stop log."""
        return (
            f"{self.written:,} lines in {self.path}, {self.lost_lines:,} lost to write errors "
            f"({self.lost_weight:,} findings; {self.write_errors:,} failed writes)"
        )

    # -- the wait -----------------------------------------------------------------------
    def _wait(self, line: bytes, weight: int) -> None:
        full = len(self._waiting) >= self.max_lines
        if full or self._waiting_bytes + len(line) > self.max_bytes:
            self._lose(1, weight)  # the newest goes: the oldest are first sightings
            return
        self._waiting.append((line, weight))
        self._waiting_bytes += len(line)

    def _sent(self, count: int) -> None:
        for _ in range(count):
            line, _ = self._waiting.popleft()
            self._waiting_bytes -= len(line)
        self.written += count

    def _lose(self, lines: int, weight: int) -> None:
        self.lost_lines += lines
        self.lost_weight += weight

    def _failed(self, exc: OSError) -> None:
        self.write_errors += 1
        self._next_retry = self.clock() + RETRY_SECONDS
        if self._outage.since is None:
            self._lost_before = (self.lost_lines, self.lost_weight)
        self._outage.failed(
            exc,
            f"{len(self._waiting)} lines wait in memory (at most {self.max_lines}) until space "
            f"returns; {self.lost_lines} lost so far ({self.lost_weight} findings)",
        )


class Outage:
    """Tells the operator about failing writes to one file: when they start, at most once
    a REPORT_SECONDS while they go on, and when they stop."""

    def __init__(self, what: str, clock: Callable[[], float]) -> None:
        self.what = what
        self.clock = clock
        self.since: float | None = None
        self._next_report = 0.0

    def failed(self, exc: OSError, detail: str) -> None:
        """A write failed; ``detail`` says what waits or was lost."""
        now = self.clock()
        reason = exc.strerror or str(exc)
        if self.since is None:
            self.since, self._next_report = now, now + REPORT_SECONDS
            log.error("%s: write failed: %s; %s", self.what, reason, detail)
        elif now >= self._next_report:
            self._next_report = now + REPORT_SECONDS
            took = now - self.since
            log.error("%s: writes failing for %.0f s (%s); %s", self.what, took, reason, detail)

    def recovered(self, detail: str) -> None:
        """A write went through: say so once, with ``detail``, if writes had been failing."""
        if self.since is not None:
            log.warning(
                "%s: writing again after %.0f s; %s", self.what, self.clock() - self.since, detail
            )
            self.since = None
