"""The fast indented JSON writer gives json.dumps(indent=2)'s text, byte for byte."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.model import Verdict
from monitor.report.json_text import dumps_indented

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.sampled_from(list(Verdict)),
)
keys = st.one_of(st.text(), st.integers(), st.booleans(), st.none(), st.sampled_from(list(Verdict)))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=30,
)


def reference(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=True, allow_nan=False)


@settings(max_examples=800, deadline=None)
@given(values)
def test_same_text_as_json_dumps(value: object) -> None:
    assert dumps_indented(value) == reference(value)


@pytest.mark.parametrize("bad", [math.nan, math.inf, {"x": [1, -math.inf]}, {math.nan: 1}])
def test_refuses_what_json_refuses(bad: object) -> None:
    with pytest.raises(ValueError):
        reference(bad)
    with pytest.raises(ValueError):
        dumps_indented(bad)


def test_refuses_unknown_types() -> None:
    with pytest.raises(TypeError):
        dumps_indented({"when": object()})
