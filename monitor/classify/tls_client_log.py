"""The TLS ClientHellos of the partitions of a replay (``--jobs``), bounded, and their merge.

A device's fingerprint changes (:mod:`monitor.classify.tls_clients`) depend on the order
of its ClientHellos across the whole capture, and a device's flows are spread over the
partitions, so each partition keeps its own devices' ClientHellos with the moment they
came (batch, packet time) and the merge hands them to one book in capture order.

Kept per partition, within the bounds the book itself has: the closed-network clients
and, per client, the JA4s that can still be among the first ``MAX_PRINTS`` of the run (a
JA4 that is not among a partition's first ones comes after as many in the run too, so
its ClientHellos are counted as dropped at once, as the book would). Per JA4 the first
``EXACT_CALLS`` ClientHellos keep their moments; later ones only add to a count and the
time range. So a ClientHello flood costs a few hundred bytes per client and JA4, not per
ClientHello. Where a new JA4 of a device comes in the middle of such a run, the merge
counts the whole run as if it came before it: the change it reports may give a higher
count of earlier ClientHellos than one process would. Everything else is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from monitor.classify.tls_clients import MAX_CLIENTS, MAX_PRINTS, TlsClients, tracked

EXACT_CALLS = 32  # ClientHellos per client and JA4 whose moments a partition keeps
Moment = tuple[int, float]  # (batch number, packet time)


@dataclass(slots=True)
class PrintCalls:
    """One client's ClientHellos with one JA4 in one partition."""

    ja3: str  # the JA3 of the first
    moments: list[Moment] = field(default_factory=list)  # the first EXACT_CALLS
    more: int = 0  # ClientHellos after those
    more_from: Moment = (0, 0.0)  # the first of them
    more_last_ts: float = 0.0  # the latest packet time among them
    more_first_ts: float = 0.0  # the earliest


@dataclass(slots=True)
class TlsClientLog:
    """A partition's ClientHellos, as the pipeline's ``on_client`` hook sees them."""

    is_closed: Callable[[str], bool]
    batch: int = 0  # the batch being processed (set by the partition's driver)
    clients: dict[str, dict[str, PrintCalls]] = field(default_factory=dict)
    dropped: int = 0  # ClientHellos the run's book would drop whatever the others saw

    def add(self, ts: float, ip: str, ja4: str, ja3: str) -> None:
        """One ClientHello sent by ``ip``."""
        prints = tracked(self.clients, ip, self.is_closed, dict)
        if prints is None:
            self.dropped += len(self.clients) >= MAX_CLIENTS
            return
        calls = prints.get(ja4)
        if calls is None:
            if len(prints) >= MAX_PRINTS:
                self.dropped += 1
                return
            calls = prints[ja4] = PrintCalls(ja3)
        if len(calls.moments) < EXACT_CALLS:
            calls.moments.append((self.batch, ts))
            return
        if not calls.more:
            calls.more_from = (self.batch, ts)
            calls.more_first_ts = calls.more_last_ts = ts
        calls.more += 1
        calls.more_first_ts = min(calls.more_first_ts, ts)
        calls.more_last_ts = max(calls.more_last_ts, ts)


def merge_tls_clients(book: TlsClients, logs: Sequence[TlsClientLog]) -> None:
    """Hand every partition's ClientHellos to ``book`` in capture order (batch, then
    packet time); a run past ``EXACT_CALLS`` counts in one step at its first moment."""
    events: list[tuple[Moment, int, str, str, PrintCalls, int]] = []
    for log in logs:
        book.dropped += log.dropped
        for ip, prints in log.clients.items():
            for ja4, calls in prints.items():
                events.extend((m, 0, ip, ja4, calls, i) for i, m in enumerate(calls.moments))
                if calls.more:
                    events.append((calls.more_from, 1, ip, ja4, calls, -1))
    events.sort(key=lambda e: (e[0], e[1]))
    for (_, ts), _, ip, ja4, calls, i in events:
        if i >= 0:
            book.add(ts, ip, ja4, calls.ja3)
        else:
            _add_run(book, ip, ja4, calls)


def _add_run(book: TlsClients, ip: str, ja4: str, calls: PrintCalls) -> None:
    """The ClientHellos past the first EXACT_CALLS of ``calls``, counted at once (their
    first ones went to the book just before, in capture order)."""
    prints = book.clients.get(ip)
    seen = prints.prints.get(ja4) if prints is not None else None
    if seen is None:  # the book dropped this client or JA4: so are the rest
        book.dropped += calls.more
        return
    seen.flows += calls.more
    seen.first_ts = min(seen.first_ts, calls.more_first_ts)
    seen.last_ts = max(seen.last_ts, calls.more_last_ts)
