"""The pipes from the capture workers to the parent: one per worker, so a death harms no other.

One queue shared by every worker (``multiprocessing.Queue``) has one write lock: a worker
killed while it writes a message keeps that lock for ever, and every other worker then
waits on it. Here each worker writes to a pipe of its own, through a thread, so that
:meth:`Outbox.put` never blocks the capture loop (as a queue's put does not). The parent
holds only the read ends: when a worker dies, its pipe ends (a message it was writing
when it died is dropped with it) and :class:`Inbox` reports the worker gone.
"""

from __future__ import annotations

import logging
import queue
import threading
from multiprocessing.connection import Connection, wait
from typing import Any

log = logging.getLogger(__name__)
FLUSH_SECONDS = 10.0


class Outbox:
    """The worker's end: :meth:`put` hands a message to a sender thread and returns."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._abandoned = False

    def put(self, msg: Any) -> None:
        """Send ``msg`` after the ones before it (pickled by the sender thread)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._send, name="outbox", daemon=True)
            self._thread.start()
        self._pending.put(msg)

    def cancel_join_thread(self) -> None:
        """Nobody reads any more (the parent is gone): :meth:`close` will not wait."""
        self._abandoned = True

    def close(self) -> None:
        """Send what is pending (bounded wait unless abandoned), then close the pipe."""
        if self._thread is not None:
            self._pending.put(None)
            self._thread.join(timeout=0 if self._abandoned else FLUSH_SECONDS)
        if self._thread is None or not self._thread.is_alive():
            self.conn.close()

    def _send(self) -> None:
        while (msg := self._pending.get()) is not None:
            try:
                self.conn.send(msg)
            except OSError:  # the parent closed its end: nothing more can be sent
                log.debug("results pipe closed by the parent", exc_info=True)
                return


class Inbox:
    """The parent's ends, by worker index."""

    def __init__(self) -> None:
        self.readers: dict[int, Connection] = {}

    def add(self, index: int, reader: Connection) -> None:
        """Read worker ``index`` from ``reader`` (replacing a previous pipe of that index)."""
        self.discard(index)
        self.readers[index] = reader

    def discard(self, index: int) -> None:
        """Stop reading worker ``index`` (idempotent)."""
        reader = self.readers.pop(index, None)
        if reader is not None:
            reader.close()

    def get(self, timeout: float) -> list[tuple[Any, ...]]:
        """The messages that arrive within ``timeout`` seconds (at most one per worker at a
        time, in each worker's order); a worker whose pipe ended is no longer read."""
        by_reader = {id(r): (i, r) for i, r in self.readers.items()}
        out: list[tuple[Any, ...]] = []
        for ready in wait(list(self.readers.values()), timeout):
            index, reader = by_reader[id(ready)]
            try:
                out.append(reader.recv())
            except (EOFError, OSError):  # the worker is gone (mid-message, perhaps)
                self.discard(index)
        return out

    def close(self) -> None:
        """Close every read end."""
        for index in list(self.readers):
            self.discard(index)
