"""The light path's address look-ups without numpy.ma equal np.unique and np.isin."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from monitor.classify.light_rules import _member, _sorted_unique

addresses = st.lists(st.integers(0, 2**41), max_size=60).map(
    lambda xs: np.asarray(xs, dtype=np.uint64)
)


@given(addresses, addresses)
def test_lookups_equal_numpys(known: np.ndarray, values: np.ndarray) -> None:
    unique = _sorted_unique(known)
    assert unique.tolist() == np.unique(known).tolist()
    assert _member(values, unique).tolist() == np.isin(values, known).tolist()
