"""`replay` on every real capture: a contract exit status, never a traceback, and the
packet total that capinfos reports for the readable part."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from monitor.cli import main
from tests.integration.test_real_captures_read import FILES, PCAPS, real, reference
from tests.requirements import require_shared, require_tool

pytestmark = [pytest.mark.realpcaps]


@pytest.mark.parametrize("name", FILES)
def test_replay_counts_every_readable_packet(name: str) -> None:
    require_tool("capinfos")
    path = real(name)
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["replay", str(path), "--json", "--no-progress"])
    assert status in (0, 1, 3)
    report = json.loads(out.getvalue())
    ref = reference(path)
    assert report["totals"]["packets"] == ref.count
    assert report["inputs"][0]["packets"] == ref.count
    assert report["inputs"][0]["bytes"] == ref.wire_bytes
    # totals count the traffic: a tunnelled frame as its inner frame (tunnel headers off)
    tunnelled = sum(s["bytes"] for s in report["coverage"]["mirror_sessions"])
    if tunnelled:
        assert ref.wire_bytes - tunnelled < report["totals"]["bytes"] < ref.wire_bytes
    else:
        assert report["totals"]["bytes"] == ref.wire_bytes
    flows = report["totals"]["flows"]
    assert sum(d["flows"] for d in report["devices"]) >= 0 and flows >= 0
    if status == 0:
        assert report["verdict"] == "clean" and not report["findings"]


def test_all_real_captures_in_one_run_never_crash(tmp_path: Path) -> None:
    """All inputs merged in one process, with every output: exit 1, no traceback."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "replay",
            *map(str, sorted(require_shared(PCAPS).glob("*.pcap*"))),
            "--json",
            "--no-progress",
            "--report",
            str(tmp_path / "r.html"),
            "--flows",
            str(tmp_path / "f.parquet"),
            "--evidence",
            str(tmp_path / "e.pcap"),
            "--metrics-out",
            str(tmp_path / "m.om"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.returncode == 1
    report = json.loads(run.stdout)
    assert report["totals"]["packets"] == sum(i["packets"] for i in report["inputs"])
    damaged = {i["path"].rsplit("/", 1)[-1] for i in report["inputs"] if i["truncated"]}
    assert "suricataverify_smtp-to-comma_bad-record-length.pcap" in damaged
    assert "dpkt_truncated_dns_2_cut-short.pcap" in damaged
