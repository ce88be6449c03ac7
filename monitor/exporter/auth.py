"""Basic-auth bookkeeping that keeps bcrypt off the hot path and out of an attacker's hands.

Two separate bounded caches of credential digests (never passwords): the ones bcrypt
accepted and the ones it refused, so a client cycling wrong passwords fills only the
second and can never push a good scraper's entry out of the first. A per-client failure
budget (a token bucket per IPv4 address or IPv6 /64, plus one for everyone) decides when a
client gets 429 before any bcrypt is run.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


class AuthResult(enum.Enum):
    """What a request's credentials earned it."""

    OK = "ok"
    DENIED = "denied"  # 401
    LIMITED = "limited"  # 429: over the failure budget, no bcrypt was run


def credential_key(user: str, password: str) -> bytes:
    """A salted digest of the credentials: what the caches hold instead of the password."""
    return hashlib.sha256(b"cctv\0" + user.encode() + b"\0" + password.encode()).digest()


def client_key(host: str) -> str:
    """Who a failure is charged to: the IPv4 address, or the /64 of an IPv6 one (one
    host usually holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class DigestCache:
    """A bounded set of credential digests, least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._keys: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: object) -> bool:
        with self._lock:
            if key not in self._keys:
                return False
            self._keys.move_to_end(key)  # type: ignore[arg-type]
            return True

    def add(self, key: bytes) -> None:
        """Remember ``key``, forgetting the least recently used one beyond ``size``."""
        with self._lock:
            self._keys[key] = None
            self._keys.move_to_end(key)
            while len(self._keys) > self.size:
                self._keys.popitem(last=False)

    def __len__(self) -> int:
        return len(self._keys)


class _Check:
    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False


class SharedChecks:
    """Checks of the same credentials at the same time run one bcrypt; the others wait for
    its answer (fifty scrapers starting together, or after a reload, cost one bcrypt)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[bytes, _Check] = {}

    def run(self, key: bytes, check: Callable[[], bool]) -> bool:
        """``check()`` for ``key``, or the answer of the same check already running."""
        with self._lock:
            job = self._running.get(key)
            leader = job is None
            if job is None:
                job = self._running[key] = _Check()
        if not leader:
            job.done.wait()
            return job.ok
        try:
            job.ok = check()
        finally:
            with self._lock:
                del self._running[key]
            job.done.set()
        return job.ok


@dataclass(frozen=True, slots=True)
class BudgetSettings:
    """How many failed logins a client may have: ``burst`` at once, then one per
    ``refill_seconds``; ``clients`` bounds the table; ``total_*`` is the same for all
    clients together (so many addresses cannot run bcrypt without end either)."""

    burst: int = 10
    refill_seconds: float = 6.0
    clients: int = 4096
    total_burst: int = 60
    total_refill_seconds: float = 0.5


class FailureBudget:
    """Token buckets of failed logins per client and in total (thread-safe).

    A client with an empty bucket (or when the shared one is empty) is refused before
    its password is checked. Only failures take tokens.
    """

    def __init__(self, settings: BudgetSettings | None = None, clock: Clock = time.monotonic):
        self.settings = settings or BudgetSettings()
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key: (tokens, at)
        self._total = (float(self.settings.total_burst), clock())
        self.limited = 0  # requests refused with 429 so far

    def allows(self, client: str) -> bool:
        """Whether ``client`` may have its password checked now (counts a refusal)."""
        s = self.settings
        with self._lock:
            now = self._clock()
            tokens = self._level(self._clients.get(client), s.burst, s.refill_seconds, now)
            total = self._level(self._total, s.total_burst, s.total_refill_seconds, now)
            if tokens >= 1.0 and total >= 1.0:
                return True
            self.limited += 1
            return False

    def charge(self, client: str) -> None:
        """Take one token from ``client`` and from the shared bucket."""
        s = self.settings
        with self._lock:
            now = self._clock()
            tokens = self._level(self._clients.pop(client, None), s.burst, s.refill_seconds, now)
            self._clients[client] = (max(tokens - 1.0, 0.0), now)
            total = self._level(self._total, s.total_burst, s.total_refill_seconds, now)
            self._total = (max(total - 1.0, 0.0), now)
            if len(self._clients) > s.clients:
                self._prune(now)

    def retry_after(self, client: str) -> int:
        """Whole seconds until ``client`` has a token again (at least 1)."""
        s = self.settings
        with self._lock:
            now = self._clock()
            tokens = self._level(self._clients.get(client), s.burst, s.refill_seconds, now)
            total = self._level(self._total, s.total_burst, s.total_refill_seconds, now)
        wait = max((1.0 - tokens) * s.refill_seconds, (1.0 - total) * s.total_refill_seconds)
        return max(1, int(wait + 0.999))

    def __len__(self) -> int:
        return len(self._clients)

    def _prune(self, now: float) -> None:
        """Drop clients whose bucket is full again; then the least recently charged."""
        s = self.settings
        for key, entry in list(self._clients.items()):
            if self._level(entry, s.burst, s.refill_seconds, now) >= s.burst:
                del self._clients[key]
        while len(self._clients) > s.clients:
            self._clients.popitem(last=False)

    @staticmethod
    def _level(entry: tuple[float, float] | None, burst: int, refill: float, now: float) -> float:
        if entry is None:
            return float(burst)
        tokens, at = entry
        return min(float(burst), tokens + max(now - at, 0.0) / refill)
