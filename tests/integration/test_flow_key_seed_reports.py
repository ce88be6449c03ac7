"""The per-process flow-key seed never shows: two seeds give the same report and flows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted(str(p) for p in (ROOT / "pcaps").glob("*.pcap*"))


def _replay(tmp_path: Path, seed: str) -> tuple[dict[str, object], str]:
    flows = tmp_path / f"flows-{seed}.csv"
    env = {**os.environ, "CCTV_FLOW_KEY_SEED": seed}
    cmd = [sys.executable, "-m", "monitor", "replay", *SAMPLES, "--json", "-q"]
    proc = subprocess.run(
        [*cmd, "--flows", str(flows)], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    report.pop("provenance")  # generation time and the command line differ by design
    return report, flows.read_text()


def test_reports_and_flow_tables_do_not_depend_on_the_seed(tmp_path: Path) -> None:
    first, first_flows = _replay(tmp_path, "1")
    second, second_flows = _replay(tmp_path, "0xfedcba9876543210")
    assert first == second
    assert first_flows == second_flows
