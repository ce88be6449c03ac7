"""tests/waiting.py: one scale for every limit, and waits that end when their condition holds.

No assertion here is on elapsed time: a fake clock stands in for the real one.
"""

from __future__ import annotations

import itertools

import pytest

from tests import waiting
from tests.waiting import SCALE_VARIABLE, poll, scale, scaled, wait_until


class FakeClock:
    """``time.monotonic`` and ``time.sleep`` for the waiting module: sleeping advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(waiting.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(waiting.time, "sleep", fake.sleep)
    monkeypatch.delenv(SCALE_VARIABLE, raising=False)
    return fake


@pytest.mark.parametrize(("value", "factor"), [(None, 1.0), ("", 1.0), ("2.5", 2.5), (" 3 ", 3.0)])
def test_scale_comes_from_one_variable(
    monkeypatch: pytest.MonkeyPatch, value: str | None, factor: float
) -> None:
    if value is None:
        monkeypatch.delenv(SCALE_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(SCALE_VARIABLE, value)
    assert scale() == factor
    assert scaled(10) == 10 * factor


@pytest.mark.parametrize("value", ["0", "-1", "fast", "nan", "inf"])
def test_a_scale_that_is_no_positive_number_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(SCALE_VARIABLE, value)
    with pytest.raises(ValueError, match=SCALE_VARIABLE):
        scale()


def test_wait_until_returns_the_first_truthy_value(clock: FakeClock) -> None:
    values = iter([None, 0, [], "ready", "later"])
    assert wait_until(lambda: next(values), 5, "readiness") == "ready"
    assert clock.slept == [0.2, 0.2, 0.2]


def test_wait_until_names_what_it_awaited(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SCALE_VARIABLE, "2")
    calls = itertools.count()
    with pytest.raises(AssertionError, match="waiting for the sensor to answer") as err:
        wait_until(lambda: next(calls) < 0, 3, "the sensor to answer", every=0.5)
    assert "timed out after 6 s" in str(err.value)
    assert f"{SCALE_VARIABLE}=2" in str(err.value)
    assert sum(clock.slept) == pytest.approx(6.0)  # the scaled limit, not the raw one


def test_poll_returns_the_last_value_when_the_limit_passes(clock: FakeClock) -> None:
    values = itertools.count()
    assert poll(lambda: next(values), 1, lambda v: v > 100, every=0.25) == 4
    assert poll(lambda: next(values), 1, lambda v: v % 2 == 0) == 6
