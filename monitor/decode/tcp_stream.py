"""One direction of a TCP stream put back in sequence order, up to a bound.

For the few streams whose start a dissector reads across segments (a TLS server's
certificate): retransmitted bytes are dropped, segments that arrive early wait (within
the bound) until the gap before them fills, and bytes beyond the bound are not kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

_MOD = 1 << 32
_HALF = 1 << 31


def tcp_seq(data: bytes | memoryview, l3: int, payload_off: int) -> int:
    """The sequence number of the TCP segment whose IP header is at ``l3`` and whose payload
    starts at ``payload_off``; -1 when the TCP header cannot be found."""
    version = data[l3] >> 4
    if version == 4:
        l4 = l3 + (data[l3] & 0x0F) * 4
    elif version == 6 and data[l3 + 6] == 6:  # TCP right after the fixed header
        l4 = l3 + 40
    else:  # IPv6 extension headers: the TCP header's own length says where it starts
        l4 = -1
        for words in range(5, 16):
            if data[payload_off - 4 * words + 12] >> 4 == words:
                l4 = payload_off - 4 * words
                break
    if l4 < l3 or payload_off - l4 < 20 or (data[l4 + 12] >> 4) * 4 != payload_off - l4:
        return -1
    return int.from_bytes(data[l4 + 4 : l4 + 8], "big")


@dataclass(slots=True)
class StreamBuffer:
    """The first ``limit`` bytes of one direction of a stream, in sequence order.

    The stream starts at the first segment that ``is_start`` accepts (its first bytes);
    segments seen before it wait, as do segments after a gap. ``full`` says the bound was
    hit: the stream had more than ``limit`` bytes, or more than that waited.
    """

    limit: int
    is_start: Callable[[bytes], bool] = lambda _data: True
    data: bytearray = field(default_factory=bytearray)
    base: int | None = None
    waiting: dict[int, bytes] = field(default_factory=dict)  # seq -> payload
    full: bool = False

    def add(self, seq: int, payload: bytes) -> bool:
        """Add a segment (``seq`` -1: unknown, appended as it comes); True if data grew."""
        if self.full or not payload:
            return False
        if seq < 0:
            return self._append(payload)
        if self.base is None:
            if not self.is_start(payload):
                return self._wait(seq, payload)
            self.base = seq
        before = len(self.data)
        self._place(seq, payload)
        while self.waiting and not self.full:
            ready = [s for s in self.waiting if self._offset(s) <= len(self.data)]
            if not ready:
                break
            for s in sorted(ready, key=self._offset):
                self._place(s, self.waiting.pop(s))
        return len(self.data) > before

    def _offset(self, seq: int) -> int:
        """Offset of ``seq`` from the stream start (negative: before it)."""
        assert self.base is not None
        off = (seq - self.base) % _MOD
        return off - _MOD if off >= _HALF else off

    def _place(self, seq: int, payload: bytes) -> None:
        off = self._offset(seq)
        have = len(self.data)
        if off + len(payload) <= have:
            return  # a retransmission of bytes already here (or before the start)
        if off > have:
            self._wait(seq, payload)
            return
        self._append(payload[have - off :])

    def _append(self, payload: bytes) -> bool:
        room = self.limit - len(self.data)
        self.data += payload[:room]
        if len(payload) > room:
            self.full = True
        return room > 0

    def _wait(self, seq: int, payload: bytes) -> bool:
        if sum(map(len, self.waiting.values())) + len(payload) > self.limit:
            self.full = True
        else:
            self.waiting[seq] = payload
        return False
