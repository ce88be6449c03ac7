"""What a test needs from its surroundings: a tool, root, files in ../shared.

Outside CI a test whose need is not met skips with the reason. Under CI (the environment
variable ``CI`` set, e.g. ``CI=1`` or ``CI=true``) it fails with the reason instead: CI
installs every tool, runs as root and has ../shared, so a skip there would only hide a
broken set-up. Every test checks its needs through these functions, never on its own.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
"""``../shared`` next to the repository: real captures, reference data."""

_NOT_CI = {"", "0", "false", "no", "off"}
MISSING = "(none found)"
"""The one name ``shared_names`` returns when it finds none (no such file in ../shared)."""


def in_ci() -> bool:
    """Whether ``CI`` is set to a true value (``1``, ``true``, ``yes``, ``on``, any case).

    Unset, empty, ``0``, ``false``, ``no`` and ``off`` are not CI; so that no CI can skip
    by accident, any other non-empty value (``CI=woodpecker``) counts as CI too.
    """
    return os.environ.get("CI", "").strip().lower() not in _NOT_CI


def unmet(reason: str) -> NoReturn:
    """Skip the test with ``reason``; fail it with ``reason`` under CI."""
    if in_ci():
        pytest.fail(f"{reason} (required under CI)", pytrace=False)
    pytest.skip(reason)


def require_tool(name: str) -> str:
    """The path of executable ``name`` on PATH; skip without it (fail under CI)."""
    path = shutil.which(name)
    if path is None:
        unmet(f"{name} is not installed (make system-deps)")
    return path


def require_root(why: str = "") -> None:
    """Return when running as root; skip otherwise (fail under CI)."""
    if os.geteuid() != 0:
        unmet("needs root" + (f" ({why})" if why else ""))


def require_shared(path: str | Path) -> Path:
    """``path`` when it exists; skip without it (fail under CI).

    A relative ``path`` is taken inside ../shared (``require_shared("pcaps-real")``);
    an absolute one is used as it is (``require_shared(PCAPS / name)``).
    """
    full = SHARED / path
    if full.name == MISSING:
        unmet(f"nothing found in {full.parent} (../shared next to the repository)")
    if not full.exists():
        unmet(f"{full} is not there (../shared next to the repository)")
    return full


def shared_names(folder: str, pattern: str = "*") -> list[str]:
    """The sorted names in ../shared/``folder`` that match ``pattern``, to parametrize over.

    Without any, a list of the one name ``MISSING``: the test then runs, and the
    ``require_shared`` it calls on the name skips or fails it. (An empty parameter list
    would make pytest skip quietly, under CI too.)
    """
    where = SHARED / folder
    names = sorted(p.name for p in where.glob(pattern)) if where.is_dir() else []
    return names or [MISSING]
