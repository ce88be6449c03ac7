"""``CCTV_FLOW_KEY_SEED`` repeats a run's flow keys; without it each process draws its own."""

from __future__ import annotations

import logging

import pytest

from monitor.flow.key import SEED_VARIABLE, process_seed


@pytest.mark.parametrize(
    ("text", "seed"),
    [("42", 42), ("0x2a", 42), ("0o52", 42), ("0", 0), (str(2**64 + 5), 5), ("-1", 2**64 - 1)],
)
def test_the_variable_fixes_the_seed_to_64_bits(text: str, seed: int) -> None:
    assert process_seed({SEED_VARIABLE: text}) == seed


def test_without_the_variable_every_draw_differs() -> None:
    draws = {process_seed({}) for _ in range(8)} | {process_seed({SEED_VARIABLE: ""})}
    assert len(draws) == 9
    assert all(0 <= s < 2**64 for s in draws)


def test_a_value_that_is_no_integer_is_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="monitor.flow.key"):
        first = process_seed({SEED_VARIABLE: "twelve"})
        second = process_seed({SEED_VARIABLE: "twelve"})
    assert first != second  # random, not a fixed fallback
    assert "CCTV_FLOW_KEY_SEED='twelve' is not an integer" in caplog.text
