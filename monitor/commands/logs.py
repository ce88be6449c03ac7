"""Log output of the command line: the level, the format, each warning printed once."""

from __future__ import annotations

import logging
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TextIO

FORMAT = "cctv-monitor: %(levelname)s: %(message)s"
MAX_REMEMBERED = 4096  # distinct messages remembered; the oldest is forgotten beyond
LIVE_REPEAT_SECONDS = 3600.0  # a sensor runs for months: a repeat may show again after this


def log_level(default: int, verbose: int, quiet: bool) -> int:
    """The level: each ``-v`` one step down from ``default`` (DEBUG at most), ``-q`` one up."""
    level = default - 10 * verbose + (10 if quiet else 0)
    return max(logging.DEBUG, min(level, logging.ERROR))


class OnceFilter(logging.Filter):
    """Drops a warning (or worse) whose exact text was already shown.

    With ``window`` None each text shows once per run; with a window (seconds of
    ``clock``) it may show again once that long has passed since it last showed, then
    saying how many times it was held back. Debug and info lines always pass. At most
    :data:`MAX_REMEMBERED` texts are remembered. ``suppressed`` counts what was dropped.
    """

    def __init__(
        self, window: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.window, self.clock = window, clock
        self.suppressed = 0
        self._shown: OrderedDict[tuple[int, str], tuple[float, int]] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a repeat of a warning already shown (within the window)."""
        if record.levelno < logging.WARNING:
            return True
        text = record.getMessage()
        key, now = (record.levelno, text), self.clock()
        seen = self._shown.get(key)
        if seen is not None:
            shown_at, held = seen
            if self.window is None or now - shown_at < self.window:
                self._shown[key] = (shown_at, held + 1)
                self.suppressed += 1
                return False
            if held:
                record.msg, record.args = f"{text} (held back {held} times before)", None
        self._shown[key] = (now, 0)
        self._shown.move_to_end(key)
        while len(self._shown) > MAX_REMEMBERED:
            self._shown.popitem(last=False)
        return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The command line's own handler (replaced, not added to, by the next setup).

    It writes to whatever ``sys.stderr`` is when a line is logged (as the standard
    library's last-resort handler does), so a handler left from an earlier in-process run
    never writes to a stream that has since been swapped out or closed.
    """

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass  # always sys.stderr


def setup_logging(level: int, repeat_after: float | None = None) -> OnceFilter:
    """Log to stderr at ``level``, each warning once (or once per ``repeat_after`` s).

    Other handlers on the root logger (a test's capture) are left alone.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    once = OnceFilter(repeat_after)
    handler.addFilter(once)
    root.addHandler(handler)
    root.setLevel(level)
    return once


def report_suppressed(once: OnceFilter) -> None:
    """One closing line saying how many repeated warnings were not shown, if any."""
    if once.suppressed:
        n = once.suppressed
        logging.getLogger("monitor").warning(
            "%d repeated warning%s not shown", n, "" if n == 1 else "s"
        )
