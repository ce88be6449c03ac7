"""Waiting in tests: poll a condition until it holds, never sleep a fixed time and hope.

Every time limit a test sets goes through ``scaled``: it is multiplied by the environment
variable ``CCTV_TEST_TIMEOUT_SCALE`` (a positive number, default 1), so that a slow or
loaded machine can give every wait more time at once (``CCTV_TEST_TIMEOUT_SCALE=3``).
A limit only bounds how long a test waits for something that should happen; no test
passes or fails because something took a certain time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
SCALE_VARIABLE = "CCTV_TEST_TIMEOUT_SCALE"


def scale() -> float:
    """The factor from ``CCTV_TEST_TIMEOUT_SCALE`` (1.0 when unset or empty)."""
    raw = os.environ.get(SCALE_VARIABLE, "").strip()
    if not raw:
        return 1.0
    try:
        factor = float(raw)
    except ValueError:
        factor = 0.0
    if not factor > 0 or factor == float("inf"):
        raise ValueError(f"{SCALE_VARIABLE}={raw!r}: expected a positive number such as 2.5")
    return factor


def scaled(seconds: float) -> float:
    """``seconds`` times the scale: the limit to pass to a wait, a subprocess, a socket."""
    return seconds * scale()


def poll(
    probe: Callable[[], T], seconds: float, done: Callable[[T], bool], every: float = 0.2
) -> T:
    """Call ``probe`` until ``done`` holds for what it returns or ``scaled(seconds)`` pass;
    its last value either way (for a caller whose own assertion shows what differs)."""
    end = time.monotonic() + scaled(seconds)
    while True:
        value = probe()
        if done(value) or time.monotonic() >= end:
            return value
        time.sleep(every)


def wait_until(predicate: Callable[[], T], seconds: float, what: str, every: float = 0.2) -> T:
    """What ``predicate`` returns once it is truthy, polling every ``every`` s; an
    AssertionError naming ``what`` when it is still falsy after ``scaled(seconds)``."""
    value = poll(predicate, seconds, bool, every)
    if not value:
        limit = scaled(seconds)
        raise AssertionError(
            f"timed out after {limit:g} s waiting for {what} (last: {value!r}; "
            f"{seconds:g} s x {SCALE_VARIABLE}={scale():g})"
        )
    return value
