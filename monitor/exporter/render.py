"""One rendering of ``/metrics`` for a crowd: scrapes that ask together share the bytes.

Rendering (every family of the snapshot, process metrics, gzip) takes milliseconds of
CPU and the GIL the capture loop also needs; fifty scrapers asking at once must not cost
fifty renderings. A scrape gets a rendering that started no earlier than ``reuse_within``
seconds before it asked; with 0 it always gets one that started after it asked, so
sharing never shows older numbers than rendering alone would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

MAX_KEYS = 16  # the Accept header picks the key: a client could invent any number of them


class SharedRender:
    """Renderings per key (content type, compression), at most one running per key."""

    def __init__(self, reuse_within: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.reuse_within = reuse_within
        self.renderings = 0  # how many times a render function actually ran
        self._clock = clock
        self._locks: dict[Hashable, threading.Lock] = {}
        self._latest: dict[Hashable, tuple[float, bytes]] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, render: Callable[[], bytes]) -> bytes:
        """The bytes of a rendering for ``key`` fresh enough for a request asking now."""
        asked = self._clock()
        latest = self._latest.get(key)  # fresh enough: no need to wait for a rendering
        if latest is not None and latest[0] >= asked - self.reuse_within:
            return latest[1]
        with self._guard:
            lock = self._locks.get(key)
            if lock is None and len(self._locks) < MAX_KEYS:
                lock = self._locks[key] = threading.Lock()
        if lock is None:  # an unusual key beyond the bound: rendered, not shared
            self.renderings += 1
            return render()
        with lock:  # a rendering under way finishes first; it may be fresh enough
            latest = self._latest.get(key)
            if latest is not None and latest[0] >= asked - self.reuse_within:
                return latest[1]
            started = self._clock()
            body = render()
            self.renderings += 1
            self._latest[key] = (started, body)
            return body
