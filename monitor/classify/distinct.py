"""Count distinct values in bounded memory: exact up to a limit, HyperLogLog beyond.

A summary finding counts the outside addresses a device scanned; a scan of the whole
internet must not keep four billion addresses. Up to ``limit`` values are kept in a set
(exact); past it the set turns into a HyperLogLog sketch of 2**12 registers (4 KiB,
about 1.6 % standard error).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

EXACT_LIMIT = 65_536
_P = 12  # 2**12 registers
_M = 1 << _P
_ALPHA = 0.7213 / (1 + 1.079 / _M)


def _hash64(value: str | int) -> int:
    raw = value.encode() if isinstance(value, str) else value.to_bytes(16, "big", signed=True)
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


@dataclass(slots=True)
class DistinctCount:
    """Distinct values (strings or integers) seen: exact while at most ``limit``, estimated
    after that."""

    limit: int = EXACT_LIMIT
    _exact: set[str | int] | None = field(default_factory=set)
    _registers: bytearray | None = None

    def add(self, value: str | int) -> None:
        """Count ``value`` (again: no change)."""
        if self._exact is not None:
            self._exact.add(value)
            if len(self._exact) > self.limit:
                self._to_sketch()
            return
        self._add_hashed(_hash64(value))

    def add_many(self, values: Iterable[str | int]) -> None:
        """Count every value of ``values``."""
        if self._exact is not None:
            self._exact.update(values)
            if len(self._exact) > self.limit:
                self._to_sketch()
            return
        for v in values:
            self._add_hashed(_hash64(v))

    def _to_sketch(self) -> None:
        assert self._exact is not None
        self._registers = bytearray(_M)
        values, self._exact = self._exact, None
        for v in values:
            self._add_hashed(_hash64(v))

    def _add_hashed(self, h: int) -> None:
        assert self._registers is not None
        index = h >> (64 - _P)
        rest = h & ((1 << (64 - _P)) - 1)
        rank = (64 - _P) - rest.bit_length() + 1
        if rank > self._registers[index]:
            self._registers[index] = rank

    @property
    def exact(self) -> bool:
        """Whether :meth:`count` is exact (not yet a sketch)."""
        return self._exact is not None

    def count(self) -> int:
        """How many distinct values were added (an estimate once past ``limit``)."""
        if self._exact is not None:
            return len(self._exact)
        assert self._registers is not None
        inverse = sum(2.0**-r for r in self._registers)
        estimate = _ALPHA * _M * _M / inverse
        zeros = self._registers.count(0)
        if estimate <= 2.5 * _M and zeros:
            estimate = _M * math.log(_M / zeros)  # linear counting for small cardinalities
        return max(round(estimate), self.limit)

    def update(self, other: DistinctCount) -> None:
        """Count every value ``other`` counted (a sketch takes the larger register)."""
        if other._exact is not None:
            self.add_many(other._exact)
            return
        if self._exact is not None:
            self._to_sketch()
        assert self._registers is not None and other._registers is not None
        for i, rank in enumerate(other._registers):
            if rank > self._registers[i]:
                self._registers[i] = rank

    def discard_many(self, values: Iterable[str | int]) -> None:
        """Forget ``values`` (a sketch cannot forget: its estimate stays as it is)."""
        if self._exact is not None:
            self._exact.difference_update(values)
