"""Command-line conventions (issue 10, point 9), run as real processes where the process
matters: -q, options after the subcommand, exit codes in --help, each warning once, a
closed pipe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
SITE = str(PCAPS / "site.yaml")
EGRESS = str(PCAPS / "egress.pcap")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip


# --- -q / --quiet ------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_replay_prints_nothing_on_stdout(tmp_path: Path, where: str) -> None:
    report = tmp_path / "r.md"
    args = ["replay", EGRESS, "--config", SITE, "--report", str(report)]
    run = cli("-q", *args) if where == "before" else cli(*args, "-q")
    assert run.returncode == 1, run.stderr
    assert run.stdout == "" and run.stderr == ""
    assert "egress" in report.read_text()  # the files asked for are still written


def test_quiet_with_json_prints_only_the_json() -> None:
    run = cli("replay", EGRESS, "--config", SITE, "--json", "-q")
    assert run.returncode == 1
    assert json.loads(run.stdout)["verdict"] == "findings"


def test_quiet_check_config_and_catalog() -> None:
    run = cli("check-config", SITE, "-q")
    assert (run.returncode, run.stdout) == (0, "")
    run = cli("catalog", "-q")
    assert (run.returncode, run.stdout) == (0, "")
    run = cli("catalog", "--json", "-q")
    assert run.returncode == 0 and json.loads(run.stdout)
    bad = cli("check-config", str(PCAPS / "README.md"), "-q")
    assert bad.returncode == 2 and "README.md" in bad.stderr  # errors still say why


def test_quiet_hides_warnings_but_not_errors(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(Path(EGRESS).read_bytes()[:3000])
    loud, quiet = cli("replay", str(cut)), cli("replay", str(cut), "-q")
    assert "cut short" in loud.stderr
    assert quiet.stderr == "" and quiet.returncode == loud.returncode


# --- global options after the subcommand -------------------------------------------------


def test_verbose_after_the_subcommand(tmp_path: Path) -> None:
    evidence = str(tmp_path / "e.pcap")
    plain = cli("replay", EGRESS, "--config", SITE, "--evidence", evidence)
    after = cli("replay", EGRESS, "--config", SITE, "--evidence", evidence, "-v")
    before = cli("-v", "replay", EGRESS, "--config", SITE, "--evidence", evidence)
    assert plain.returncode == after.returncode == before.returncode == 1
    assert "INFO: evidence:" not in plain.stderr
    assert "INFO: evidence:" in after.stderr and "INFO: evidence:" in before.stderr
    debug = cli("-v", "check-config", SITE, "-v")  # counts add up: -v -v is debug
    assert debug.returncode == 0


def test_unknown_options_are_still_usage_errors() -> None:
    run = cli("replay", EGRESS, "--bogus")
    assert run.returncode == 2 and "--bogus" in run.stderr


# --- exit codes in --help ----------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["replay"]])
def test_help_lists_the_exit_codes(command: list[str]) -> None:
    run = cli(*command, "--help")
    assert run.returncode == 0
    text = run.stdout
    section = text[text.index("exit status:") :].splitlines()
    codes = {line.split()[0]: line for line in section[1:5]}
    assert list(codes) == ["0", "1", "2", "3"]
    assert "finding" in codes["1"] and "no_data" in codes["3"]
    assert "output" in codes["2"]


def test_subcommand_help_shows_global_options() -> None:
    text = cli("live", "--help").stdout
    assert "-q, --quiet" in text and "-v, --verbose" in text


# --- each warning once -------------------------------------------------------------------


def test_an_input_error_is_printed_once(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(Path(EGRESS).read_bytes()[:3000])
    run = cli("replay", str(cut), "--json")
    warnings = [line for line in run.stderr.splitlines() if "cut short" in line]
    assert len(warnings) == 1, run.stderr
    errors = json.loads(run.stdout)["inputs"][0]["errors"]
    assert len(errors) == 1 and warnings[0].endswith(errors[0])  # and still in the report


# --- a closed pipe -----------------------------------------------------------------------


def _env(buffered: bool) -> dict[str, str]:
    """The environment, with stdout block-buffered as users have it (the default) or not."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return env if buffered else {**env, "PYTHONUNBUFFERED": "1"}


def _closed_stdout(*args: str, buffered: bool = True) -> tuple[int, str]:
    """Run with a stdout pipe whose reader is gone before the first write."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=_env(buffered),
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), err


@pytest.mark.parametrize("buffered", [True, False])
@pytest.mark.parametrize(
    "args",
    [["catalog"], ["catalog", "--json"], ["check-config", SITE], ["inventory", EGRESS],
     ["--version"], ["--help"], ["replay", "--help"]],
)  # fmt: skip
def test_closed_pipe_ends_quietly(args: list[str], buffered: bool) -> None:
    status, err = _closed_stdout(*args, buffered=buffered)
    assert (status, err) == (0, "")


def test_closed_pipe_in_replay_keeps_status_and_files(tmp_path: Path) -> None:
    for buffered in (True, False):
        report = tmp_path / f"r{buffered}.json"
        args = ("replay", EGRESS, "--config", SITE, "--report", str(report))
        assert _closed_stdout(*args, buffered=buffered) == (1, "")
        assert json.loads(report.read_text())["verdict"] == "findings"
        args = ("replay", EGRESS, "--config", SITE, "--json")
        assert _closed_stdout(*args, buffered=buffered) == (1, "")


def test_catalog_into_head() -> None:
    run = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {sys.executable} -m monitor catalog | head -n 1"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=_env(buffered=True),
    )  # fmt: skip
    assert run.returncode == 0 and run.stderr == ""
    assert run.stdout.startswith("cctv-monitor vendor catalog")
