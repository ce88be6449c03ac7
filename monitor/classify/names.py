"""Names of peers from the traffic: the address-to-name memory built from DNS answers
seen on the wire (never from lookups), and the names a server's certificate vouches for."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from monitor.flow.key import v4_int
from monitor.flow.state import FlowState

CERTIFICATE_NAMED = "named by server certificate"


@dataclass(frozen=True, slots=True)
class LearnedName:
    """A name an address was given by a DNS answer, and when that answer stops counting."""

    name: str
    query: str
    learned_ts: float
    expires_ts: float


@dataclass(slots=True)
class NameCache:
    """Bounded, TTL-aware map from address to the name a DNS answer gave it.

    Answers stay valid for their TTL plus ``grace`` seconds of packet time (devices
    cache longer than they should). When full, the oldest entry goes and
    ``evictions`` counts it.
    """

    max_entries: int = 100_000
    grace: float = 3600.0
    evictions: int = 0
    _entries: OrderedDict[str, LearnedName] = field(default_factory=OrderedDict)
    v4: set[int] = field(default_factory=set)  # the IPv4 addresses held, as integers

    def learn(self, addr: str, name: str, query: str, ttl: int, ts: float) -> None:
        """Remember that ``addr`` answered for ``name`` (asked as ``query``) at ``ts``."""
        self._entries.pop(addr, None)
        self._entries[addr] = LearnedName(name, query, ts, ts + max(ttl, 0) + self.grace)
        number = v4_int(addr)
        if number is not None:
            self.v4.add(number)
        if len(self._entries) > self.max_entries:
            old, _ = self._entries.popitem(last=False)
            self.v4.discard(v4_int(old))  # type: ignore[arg-type]
            self.evictions += 1

    def lookup(self, addr: str, ts: float) -> LearnedName | None:
        """The name ``addr`` had at packet time ``ts``, if an answer still vouches for it."""
        learned = self._entries.get(addr)
        if learned is None or ts > learned.expires_ts:
            return None
        return learned

    def __len__(self) -> int:
        return len(self._entries)


def certificate_names(flow: FlowState) -> tuple[str, ...]:
    """The names the server's certificate (TLS 1.2 and older) vouches for, CN first, when
    the server is the flow's peer (a device's own certificate names the device)."""
    tls = flow.tls
    if tls is None or tls.certificate is None or flow.peer != flow.resp_addr:
        return ()
    return tls.certificate.names()
