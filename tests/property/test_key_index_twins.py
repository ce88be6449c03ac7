"""The light flows' C hash index answers as its numpy twin does, whatever happens to it.

``HashKeyIndex`` (``_index.c``) and ``SortedKeyIndex`` get the same batches of inserts
(keys they do not hold, each once, as the flow table hands them out), removals (held keys
and others) and lookups; every lookup and count must agree, through the rebuilds that
grow the hash table and the removed entries it probes past.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.flow import key_index
from monitor.flow.key_index import MIN_CELLS, HashKeyIndex, SortedKeyIndex
from monitor.flow.light import LightFlows

needs_c = pytest.mark.skipif(key_index._index is None, reason="the C speedups are not built")

# keys from a small pool collide in the hash table's probes and come back after removal
KEYS = st.one_of(st.integers(0, 40), st.integers(0, 2**64 - 1))
STEPS = st.lists(
    st.tuples(st.sampled_from(["insert", "remove", "lookup"]), st.lists(KEYS, max_size=60)),
    max_size=40,
)


def _u64(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.uint64)


@needs_c
@settings(max_examples=300, deadline=None)
@given(STEPS)
def test_the_hash_index_answers_as_the_sorted_one(steps: list[tuple[str, list[int]]]) -> None:
    c, twin = HashKeyIndex(cells=4), SortedKeyIndex()  # small and full: long probe chains
    held: set[int] = set()
    next_slot = 0
    for op, keys in steps:
        if op == "insert":  # as the flow table does: keys not held, each once
            fresh = list(dict.fromkeys(k for k in keys if k not in held))
            slots = np.arange(next_slot, next_slot + len(fresh), dtype=np.int64)
            next_slot += len(fresh)
            for index in (c, twin):
                index.insert(_u64(fresh), slots)
            held.update(fresh)
        elif op == "remove":
            for index in (c, twin):
                index.remove(_u64(keys))
            held.difference_update(keys)
        needles = _u64(keys + sorted(held))
        assert c.lookup(needles).tolist() == twin.lookup(needles).tolist()
        assert len(c) == len(twin) == len(held)


@needs_c
def test_a_flood_of_keys_keeps_the_table_at_most_half_full() -> None:
    index = HashKeyIndex()
    rng = np.random.default_rng(13)
    keys = np.unique(rng.integers(0, 2**64, size=310_000, dtype=np.uint64))[:300_000]
    rng.shuffle(keys)  # distinct, in no order: their cells collide as real flow keys do
    live: dict[int, int] = {}
    for n, start in enumerate(range(0, keys.size, 4096)):  # a flood: new in, old out
        batch = keys[start : start + 4096]
        slots = np.arange(start, start + batch.size, dtype=np.int64)
        index.insert(batch, slots)
        live.update(zip(batch.tolist(), slots.tolist(), strict=True))
        if n >= 25:
            gone = keys[(n - 25) * 4096 : (n - 24) * 4096]
            index.remove(gone)
            for k in gone.tolist():
                del live[k]
        assert index._used * 2 <= index._keys.shape[0]
        assert len(index) == len(live)
    assert index._keys.shape[0] <= 8 * len(index)  # rebuilt at 4x the live keys: no creep
    assert index.lookup(keys).tolist() == [live.get(k, -1) for k in keys.tolist()]


@needs_c
def test_a_full_table_is_an_error_not_a_hang() -> None:
    from monitor.flow import _index  # type: ignore[attr-defined]

    keys = np.zeros(4, np.uint64)
    slots = np.full(4, -1, np.int64)
    _index.insert(keys, slots, _u64([1, 2, 3, 4]), np.arange(4, dtype=np.int64))
    with pytest.raises(RuntimeError, match="full"):
        _index.insert(keys, slots, _u64([5]), np.arange(1, dtype=np.int64))
    out = np.empty(1, np.int64)
    _index.lookup(keys, slots, _u64([9]), out)  # every cell probed, none empty: not there
    assert out.tolist() == [-1]
    with pytest.raises(ValueError, match="power-of-two"):
        _index.lookup(np.zeros(3, np.uint64), np.full(3, -1, np.int64), _u64([1]), out)


def test_light_flows_use_the_c_index_where_it_is_built() -> None:
    index = LightFlows()._index
    expected = HashKeyIndex if key_index._index is not None else SortedKeyIndex
    assert type(index) is expected
    assert MIN_CELLS & (MIN_CELLS - 1) == 0


@needs_c
def test_a_removed_cell_is_taken_again_before_an_empty_one() -> None:
    """A flood churns keys: reusing the cells of removed keys keeps rebuilds rare."""
    index = HashKeyIndex()
    for round_ in range(5):
        index.insert(_u64([7, 8]), np.array([round_, round_ + 100], dtype=np.int64))
        index.remove(_u64([7, 8]))
    assert index._used == 2 and len(index) == 0
