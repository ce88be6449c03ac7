"""Field values from untrusted discovery datagrams: the inline path equals clean_field's."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.decode.fields import MAX_EXTRA, MAX_FIELD, clean_field, extra_fields

VALUES = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=" \t\r\n\x00\x1b\u200bab=", max_size=12),
    st.integers(),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def by_clean_field(
    pairs: list[tuple[object, object]], skip: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """extra_fields as its docstring says: clean_field on each key and value."""
    out: list[tuple[str, str]] = []
    for key, value in pairs:
        if len(out) >= MAX_EXTRA:
            break
        name, text = clean_field(key), clean_field(value)
        if name and name not in skip and text:
            out.append((name[:64], text))
    return tuple(out)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(VALUES, VALUES), max_size=40), st.sampled_from(((), ("MAC", " a"))))
def test_extra_fields_is_clean_field_on_every_pair(
    pairs: list[tuple[object, object]], skip: tuple[str, ...]
) -> None:
    assert extra_fields(pairs, skip) == by_clean_field(pairs, skip)


def test_hostile_values_are_printable_stripped_and_bounded() -> None:
    pairs = [("  Model\x00 ", "DS-2CD\x1b[31m"), ("MAC", "aa"), ("Name", "x" * 999), ("", "v")]
    assert extra_fields(pairs, ("MAC",)) == (("Model", "DS-2CD[31m"), ("Name", "x" * MAX_FIELD))
    assert len(extra_fields([(f"k{n}", "v") for n in range(100)])) == MAX_EXTRA
