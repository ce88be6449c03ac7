"""One rendering of ``/metrics`` for a crowd: scrapes that ask together share the bytes.

Rendering (every family of the snapshot, process metrics, gzip) takes milliseconds of
CPU and the GIL the capture loop also needs; fifty scrapers asking at once must not cost
fifty renderings. A scrape gets a rendering that started no earlier than ``reuse_within``
seconds before it asked, and only one made of the state it would render now (its
``version``: the published snapshot's): with 0, or after the sensor published, it gets
one that started after it asked, so sharing never shows older numbers than rendering
alone would. A scrape right after the sensor said ``READY=1`` shows the capture up, even
if another scrape was answered from the state before it a moment earlier.
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
        self._latest: dict[Hashable, tuple[float, Hashable, bytes]] = {}
        self._guard = threading.Lock()

    def get(
        self, key: Hashable, render: Callable[[], bytes], version: Callable[[], Hashable] = tuple
    ) -> bytes:
        """The bytes of a rendering for ``key`` fresh enough for a request asking now;
        ``version()`` says which state ``render`` would show now."""
        asked, now_at = self._clock(), version()
        body = self._reusable(key, asked, now_at)  # fresh enough: no need to wait for one
        if body is not None:
            return body
        with self._guard:
            lock = self._locks.get(key)
            if lock is None and len(self._locks) < MAX_KEYS:
                lock = self._locks[key] = threading.Lock()
        if lock is None:  # an unusual key beyond the bound: rendered, not shared
            self.renderings += 1
            return render()
        with lock:  # a rendering under way finishes first; it may be fresh enough
            body = self._reusable(key, asked, now_at)
            if body is not None:
                return body
            started, at = self._clock(), version()  # the state it shows: this one or newer
            body = render()
            self.renderings += 1
            self._latest[key] = (started, at, body)
            return body

    def _reusable(self, key: Hashable, asked: float, at: Hashable) -> bytes | None:
        """The latest rendering for ``key`` if it started within reuse_within of ``asked``
        and shows state ``at``; else None."""
        latest = self._latest.get(key)
        if latest is not None and latest[0] >= asked - self.reuse_within and latest[1] == at:
            return latest[2]
        return None
