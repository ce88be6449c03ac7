"""The metrics endpoint's bounds, and a tally of the clients they cut off (logged per minute)."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass

log = logging.getLogger("monitor.exporter")


@dataclass(frozen=True, slots=True)
class Limits:
    """What one client, and all clients together, may hold of the endpoint.

    * ``backlog``: the kernel's queue of connections not yet accepted.
    * ``max_connections``: open client connections; at the cap the one that has waited
      longest without a complete request is closed to admit a new one.
    * ``workers``: threads that answer complete requests (nothing else takes a thread).
    * ``request_deadline``: seconds from accepting a connection (or from the first byte of
      a further request on a kept-alive one) until the request, TLS handshake, headers and
      body included, is complete. In total, not per read: trickling bytes buys nothing.
    * ``write_deadline``: seconds to take the whole response.
    * ``idle_timeout``: a kept-alive connection without a new request is closed after it.
    * ``max_head`` / ``max_body``: request line + headers, and body, in bytes.
    * ``reuse_within``: scrapes that ask within this many seconds after a rendering of
      ``/metrics`` started share it (one rendering serves a crowd of scrapers).
    """

    backlog: int = 512
    max_connections: int = 512
    workers: int = 4
    request_deadline: float = 10.0
    write_deadline: float = 10.0
    idle_timeout: float = 60.0
    max_head: int = 32 * 1024
    max_body: int = 64 * 1024
    reuse_within: float = 0.25


REPORT_EVERY = 60.0  # seconds between log lines about refused clients

_WHAT = {
    "deadline": "cut off at the request deadline",
    "write_deadline": "cut off at the write deadline",
    "evicted": "closed at the connection cap to admit a new one",
    "refused": "refused at the connection cap (every slot busy)",
    "accept_failed": "not accepted (out of file descriptors?)",
    "too_large": "refused for an oversized request",
    "auth_limited": "answered 429 (over the failed-login budget)",
}


class Tally:
    """Counts of clients the limits turned away; one warning line per minute with news."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._reported: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._next_report: float | None = None

    def add(self, what: str, n: int = 1) -> None:
        """Count ``n`` clients turned away for reason ``what`` (a key of ``_WHAT``)."""
        with self._lock:
            self.counts[what] += n

    def report(self, now: float) -> None:
        """Log what changed since the last line, at most once per ``REPORT_EVERY``."""
        if self._next_report is not None and now < self._next_report:
            return
        with self._lock:
            news = self.counts - self._reported
            self._reported = self.counts.copy()
        self._next_report = now + REPORT_EVERY
        if news:
            parts = ", ".join(f"{n} {_WHAT.get(k, k)}" for k, n in sorted(news.items()))
            log.warning("metrics endpoint: clients turned away: %s", parts)
