"""An index from 64-bit keys to slots, one batch of keys at a time: the light flows' flow
keys to their rows (:mod:`monitor.flow.light`), device addresses to label ids
(:mod:`monitor.light_path`).

:class:`HashKeyIndex` is an open-addressing hash table whose loops are C
(``_index.c``): a lookup, insert or removal costs the same however many flows there are.
:class:`SortedKeyIndex` keeps two sorted arrays and does the same with ``searchsorted``,
``np.insert`` and ``np.delete``: it is the fallback without the C speedup and the oracle
the tests hold the C table to, but each insert or removal moves the whole index, which a
flood of a quarter of a million live flows pays on every batch.

Both take keys as uint64 arrays. ``insert`` is for keys the index does not hold, each
once; ``remove`` passes over keys it does not hold.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monitor.speedups import load

_index = load("monitor.flow._index")

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
EMPTY = -1
MIN_CELLS = 1024


class SortedKeyIndex:
    """The index as two sorted arrays (keys, slots): see the module docstring."""

    def __init__(self) -> None:
        self._keys: U64 = np.zeros(0, np.uint64)
        self._slots: I64 = np.zeros(0, np.int64)

    def __len__(self) -> int:
        return int(self._keys.shape[0])

    def lookup(self, keys: U64) -> I64:
        """The slot of each key, -1 for keys the index does not hold."""
        n = self._keys.shape[0]
        if not n:
            return np.full(keys.shape[0], EMPTY, dtype=np.int64)
        order = np.argsort(keys)  # sorted needles: searchsorted walks the index in order
        pos = np.empty(keys.shape[0], dtype=np.int64)
        pos[order] = np.searchsorted(self._keys, keys[order])
        np.minimum(pos, n - 1, out=pos)
        found: I64 = np.where(self._keys[pos] == keys, self._slots[pos], EMPTY)
        return found

    def insert(self, keys: U64, slots: I64) -> None:
        """Map each key (not held yet, each once) to its slot."""
        order = np.argsort(keys, kind="stable")
        at = np.searchsorted(self._keys, keys[order])
        self._keys = np.insert(self._keys, at, keys[order])
        self._slots = np.insert(self._slots, at, slots[order])

    def remove(self, keys: U64) -> None:
        """Forget these keys."""
        n = self._keys.shape[0]
        if not n or not keys.shape[0]:
            return
        needles = np.sort(keys)
        at = np.searchsorted(self._keys, needles)
        held = at < n
        held[held] = self._keys[at[held]] == needles[held]
        self._keys = np.delete(self._keys, at[held])
        self._slots = np.delete(self._slots, at[held])


class HashKeyIndex:
    """The index as a hash table in C: see the module docstring.

    The table is never more than half full, counting removed entries; when a batch would
    pass that it is built again at four times the live keys (so it shrinks too).
    """

    def __init__(self, cells: int = MIN_CELLS) -> None:
        self.min_cells = cells  # a rebuilt table has at least this many cells
        self._keys: U64 = np.zeros(0, np.uint64)
        self._slots: I64 = np.zeros(0, np.int64)
        self._live = 0  # keys held
        self._used = 0  # cells ever filled since the table was built (removed ones too)
        self._empty(cells)

    def _empty(self, cells: int) -> None:
        """Start again with an empty table of ``cells`` cells (a power of two)."""
        self._keys = np.zeros(cells, np.uint64)
        self._slots = np.full(cells, EMPTY, np.int64)
        self._live = self._used = 0

    def __len__(self) -> int:
        return self._live

    def lookup(self, keys: U64) -> I64:
        """The slot of each key, -1 for keys the index does not hold."""
        out = np.empty(keys.shape[0], dtype=np.int64)
        if keys.shape[0]:
            assert _index is not None
            _index.lookup(self._keys, self._slots, np.ascontiguousarray(keys, np.uint64), out)
        return out

    def insert(self, keys: U64, slots: I64) -> None:
        """Map each key (not held yet, each once) to its slot."""
        if not keys.shape[0]:
            return
        self._make_room(keys.shape[0])
        self._add(np.ascontiguousarray(keys, np.uint64), np.ascontiguousarray(slots, np.int64))

    def remove(self, keys: U64) -> None:
        """Forget these keys."""
        if keys.shape[0] and self._live:
            assert _index is not None
            keys = np.ascontiguousarray(keys, np.uint64)
            self._live -= _index.remove(self._keys, self._slots, keys)

    def _add(self, keys: U64, slots: I64) -> None:
        assert _index is not None
        added, filled = _index.insert(self._keys, self._slots, keys, slots)
        self._live += added
        self._used += filled

    def _make_room(self, more: int) -> None:
        cells = self._keys.shape[0]
        if (self._used + more) * 2 <= cells:
            return
        held = self._slots >= 0
        keys, slots = self._keys[held], self._slots[held]
        size = self.min_cells
        while size < 4 * (self._live + more):
            size *= 2
        self._empty(size)
        self._add(keys, slots)


KeyIndex = HashKeyIndex | SortedKeyIndex


def key_index() -> KeyIndex:
    """A new index: the C hash table, or its numpy twin where the speedup is not built."""
    return HashKeyIndex() if _index is not None else SortedKeyIndex()
