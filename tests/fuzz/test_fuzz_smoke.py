"""A one-minute run of the sanitizer fuzz harness (``make fuzz`` runs it for hours).

The extensions are rebuilt with AddressSanitizer and UBSan, every target (readers,
decoder and grouping with their twins, dissectors, pipeline) gets its share of the time,
and the run must end with no crash. Inputs it saves go to a temporary directory and are
named in the failure, to be moved to ``tests/fuzz/regressions``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.requirements import require_tool

ROOT = Path(__file__).resolve().parents[2]
SECONDS = float(os.environ.get("CCTV_FUZZ_SMOKE_SECONDS", "48"))


def test_a_short_sanitized_fuzz_run_finds_nothing(tmp_path: Path) -> None:
    require_tool("gcc")
    saved = tmp_path / "saved"
    proc = subprocess.run(
        [
            sys.executable, str(ROOT / "tools/fuzz/run.py"), "--seconds", str(SECONDS),
            "--work", str(tmp_path / "work"), "--regressions", str(saved),
        ],
        capture_output=True, text=True, cwd=ROOT, timeout=SECONDS * 4 + 300,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    per_target = dict(re.findall(r"fuzz: (\w+): (\d+) executions", out))
    assert set(per_target) == {"reader", "decoder", "dissectors", "pipeline"}, out
    assert all(int(n) >= 200 for n in per_target.values()), per_target  # it really ran
    assert not saved.exists(), sorted(p.name for p in saved.rglob("*"))
