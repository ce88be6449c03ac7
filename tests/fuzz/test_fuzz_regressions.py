"""Every input the fuzzer ever saved (``tests/fuzz/regressions/<target>/``) runs clean
through its target on the normal build: no exception, C and Python twins agreeing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tools.fuzz.targets import TARGETS

HERE = Path(__file__).parent / "regressions"
CASES = sorted(p for p in HERE.glob("*/*.bin"))


def test_there_are_regression_inputs_and_each_names_a_target() -> None:
    assert CASES, "the regression directory is empty"
    assert {p.parent.name for p in CASES} <= set(TARGETS)


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_saved_input_runs_clean(path: Path) -> None:
    logging.disable(logging.CRITICAL)
    try:
        TARGETS[path.parent.name](path.read_bytes())
    finally:
        logging.disable(logging.NOTSET)
