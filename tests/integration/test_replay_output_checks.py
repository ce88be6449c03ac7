"""Every output path is checked before the first packet is read (issue 10, point 8).

Each bad output is a usage error (exit 2) that names the option and the path, and
nothing is read or written: the capture given is a FIFO that nobody writes to, so a
replay that opened it would hang (and the test time out) instead of failing fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
SITE = PCAPS / "site.yaml"


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True, text=True, timeout=60, cwd=cwd,
    )  # fmt: skip


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "never-written.pcap"
    os.mkfifo(path)
    return path


def _cases(tmp: Path) -> list[tuple[list[str], str, str, str]]:
    """(output options, option named, path named, reason) per bad output."""
    (tmp / "adir").mkdir()
    (tmp / "afile").write_text("x")
    exists = tmp / "exists.csv"
    exists.write_text("keep me")
    return [
        (["--flows", "/nodir/f.csv"], "--flows", "/nodir/f.csv", "does not exist"),
        (["--report", str(tmp / "r.pdf")], "--report", str(tmp / "r.pdf"), ".json, .md, .html"),
        (["--flows", str(tmp / "f.xlsx")], "--flows", str(tmp / "f.xlsx"), ".csv, .parquet"),
        (["--evidence", str(tmp / "adir")], "--evidence", str(tmp / "adir"), "is a directory"),
        (["--metrics-out", str(tmp / "afile" / "m.om")], "--metrics-out",
         str(tmp / "afile" / "m.om"), "is not a directory"),
        (["--evidence", str(SITE)], "--evidence", str(SITE), "same file as --config"),
        (["--flows", str(exists), "--metrics-out", str(exists)], "--metrics-out", str(exists),
         "same file as --flows"),
        (["--report", str(tmp / "a.json"), "--report", str(tmp / "b.json")], "--report",
         str(tmp / "b.json"), "one --report per format"),
        (["--report", str(tmp / "r.html"), "--metrics-out", str(tmp / "sub" / ".." / "r.html")],
         "--metrics-out", str(tmp / "sub" / ".." / "r.html"), "does not exist"),
    ]  # fmt: skip


def test_the_issue_case_fails_before_reading_and_names_flows(tmp_path: Path, fifo: Path) -> None:
    html = tmp_path / "r.html"
    run = cli("replay", str(fifo), "--config", str(SITE), "--report", str(html),
              "--flows", "/nodir/f.csv")  # fmt: skip
    assert run.returncode == 2
    assert "--flows /nodir/f.csv" in run.stderr and "/nodir" in run.stderr
    assert not html.exists()
    assert run.stdout == ""


def test_every_bad_output_is_named_and_nothing_is_written(tmp_path: Path, fifo: Path) -> None:
    for outputs, option, path, why in _cases(tmp_path):
        before = sorted(p.name for p in tmp_path.rglob("*"))
        run = cli("replay", str(fifo), "--config", str(SITE), "--no-progress", *outputs)
        assert run.returncode == 2, (outputs, run.stderr)
        assert f"{option} {path}" in run.stderr and why in run.stderr, (outputs, run.stderr)
        assert "Traceback" not in run.stderr and run.stdout == ""
        assert sorted(p.name for p in tmp_path.rglob("*")) == before, outputs
    assert (tmp_path / "exists.csv").read_text() == "keep me"


def test_an_output_that_is_a_capture_is_refused(tmp_path: Path) -> None:
    capture = tmp_path / "in.pcap"
    capture.write_bytes((PCAPS / "egress.pcap").read_bytes())
    run = cli("replay", str(capture), "--evidence", str(capture))
    assert run.returncode == 2
    assert f"--evidence {capture}: is the same file as the input {capture}" in run.stderr
    assert capture.read_bytes() == (PCAPS / "egress.pcap").read_bytes()
    link = tmp_path / "link.pcap"
    link.symlink_to(capture)
    run = cli("replay", str(capture), "--evidence", str(link))
    assert run.returncode == 2 and "same file as the input" in run.stderr


def test_good_outputs_still_pass_and_dev_null_is_allowed(tmp_path: Path) -> None:
    run = cli("replay", str(PCAPS / "egress.pcap"), "--config", str(SITE), "--no-progress",
              "--report", str(tmp_path / "r.json"), "--evidence", "/dev/null",
              "--metrics-out", "/dev/null", "--flows", "flows.csv", cwd=tmp_path)  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert (tmp_path / "r.json").exists() and (tmp_path / "flows.csv").exists()


def test_report_may_be_given_once_per_format(tmp_path: Path) -> None:
    paths = [tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.html"]
    args = [arg for p in paths for arg in ("--report", str(p))]
    run = cli("replay", str(PCAPS / "vendor_cloud.pcap"), "--config", str(SITE), "-q", *args)
    assert run.returncode == 1, run.stderr
    assert run.stdout == ""
    assert paths[0].read_text().lstrip().startswith("{")
    assert "vendor_cloud" in paths[1].read_text()
    assert paths[2].read_text().lstrip().lower().startswith("<!doctype html")
