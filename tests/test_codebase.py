"""House rules that keep the codebase livable: lint, import layers, module size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.requirements import require_tool

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400


def _tool(name: str) -> str:
    """The virtualenv's ``name`` (whether or not it is on PATH), else the one on PATH."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else require_tool(name)


def test_ruff_finds_nothing() -> None:
    run = subprocess.run(
        [_tool("ruff"), "check", "monitor", "tests", "pcaps", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_import_layers_hold() -> None:
    """cli > commands > replay > edges > pipeline > classify > flow > decode > config > model;
    the pure core never imports pandas, prometheus_client, pcapy or sockets."""
    run = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_modules_stay_small() -> None:
    too_long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "monitor").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"
