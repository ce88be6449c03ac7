"""The optional C speedups: load one, or None to use its numpy/Python twin.

Each C module (``monitor/*/_*.c``, built by setup.py) mirrors a Python function that
stays as the fallback and as the oracle the tests compare it with. Setting
``CCTV_MONITOR_NO_C=1`` runs the Python twins everywhere (for debugging and for the
tests of the fallback).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

DISABLE_VARIABLE = "CCTV_MONITOR_NO_C"
MODULES = (
    "monitor.capture._records",
    "monitor.decode._headers",
    "monitor.flow._account",
    "monitor.flow._groups",
    "monitor.flow._index",
)


def load(name: str) -> ModuleType | None:
    """The C module ``name``, or None when it is not built or is switched off."""
    if os.environ.get(DISABLE_VARIABLE, "") not in ("", "0"):
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def missing() -> list[str]:
    """The C modules that are not built (ignoring the switch)."""
    absent = []
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            absent.append(name)
    return absent
