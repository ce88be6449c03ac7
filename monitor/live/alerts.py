"""The alert log: findings as JSON lines, appended and flushed as they happen, throttled per peer.

Each line is the contract's finding object (:meth:`Finding.to_json`) plus ``site``,
``time`` (ISO 8601 UTC of the finding's ``first_ts``), ``count`` and ``suppressed``.

Throttle: the same (device, kind, peer) gets at most one line per ``throttle`` seconds
of packet time. Findings inside the window are held back and counted; when the window
has passed, the last of them is written with how many it stands for. So a line stands
for ``count`` findings (itself and the ``suppressed = count - 1`` held back before it),
and the sum of ``count`` over the log is the number of findings: nothing is lost, a
scan or a beaconing camera just does not flood the file.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from monitor.model import Finding

log = logging.getLogger(__name__)
DEFAULT_THROTTLE = 300.0
ThrottleKey = tuple[str, str, str]


@dataclass(slots=True)
class _Window:
    """One key's throttle window: until when, and what was held back meanwhile."""

    until: float
    held: int = 0
    last: Finding | None = None


def iso_utc(ts: float) -> str:
    """``2026-03-02T08:00:03.000Z`` for UNIX seconds ``ts``."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AlertLog:
    """Writes findings to ``path`` (or only counts them when ``path`` is None)."""

    def __init__(
        self, path: str | None, site: Callable[[], str], throttle: float = DEFAULT_THROTTLE
    ) -> None:
        self.path = path
        self.site = site
        self.throttle = max(float(throttle), 0.0)
        self.findings = 0
        self.lines = 0
        self.write_errors = 0
        self._windows: dict[ThrottleKey, _Window] = {}
        self._fp: TextIO | None = None
        if path is not None:
            self._fp = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - close()

    def add(self, finding: Finding) -> None:
        """Write ``finding`` now, or hold it back when its key is inside a window."""
        self.findings += 1
        key = (finding.device, finding.kind.value, finding.peer)
        window = self._windows.get(key)
        ts = finding.first_ts
        if window is not None and ts < window.until:
            window.held += 1
            window.last = finding
            return
        held = window.held if window is not None else 0
        self._write(finding, 1 + held)
        if self.throttle > 0:
            self._windows[key] = _Window(until=ts + self.throttle)
        else:
            self._windows.pop(key, None)

    def flush_due(self, now: float) -> None:
        """Write what was held back in windows that ended by packet time ``now``."""
        for key, window in list(self._windows.items()):
            if now < window.until:
                continue
            if window.last is not None:
                self._write(window.last, window.held)
                self._windows[key] = _Window(until=now + self.throttle)
            else:
                del self._windows[key]

    def close(self) -> None:
        """Write everything still held back, sync and close the file (idempotent)."""
        for window in self._windows.values():
            if window.last is not None:
                self._write(window.last, window.held)
        self._windows.clear()
        fp, self._fp = self._fp, None
        if fp is not None:
            try:
                fp.flush()
                os.fsync(fp.fileno())
            except OSError as exc:
                log.error("alert log %s: %s", self.path, exc)
            fp.close()

    def _write(self, finding: Finding, count: int) -> None:
        self.lines += 1
        if self._fp is None:
            return
        line = {
            **finding.to_json(),
            "site": self.site(),
            "time": iso_utc(finding.first_ts),
            "count": count,
            "suppressed": count - 1,
        }
        try:
            self._fp.write(json.dumps(line, separators=(",", ":")) + "\n")
        except OSError as exc:  # disk full: keep sensing, say so, count it
            self.write_errors += 1
            if self.write_errors == 1 or self.write_errors % 1000 == 0:
                log.error("alert log %s: %s (%d lines lost)", self.path, exc, self.write_errors)
