"""`cctv-monitor verify REPORT.json`: the files a report names, hashed again."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from monitor.capture.hashing import sha256_file
from tests.cli_run import run_cli

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"


cli = run_cli


@pytest.fixture
def audited(tmp_path: Path) -> Path:
    """A directory with two inputs, a policy, the evidence and the JSON report (relative paths)."""
    for name in ("egress.pcap", "demo_day.pcap.gz", "site.yaml"):
        shutil.copy(PCAPS / name, tmp_path / name)
    run = cli(
        "replay", "egress.pcap", "demo_day.pcap.gz", "--config", "site.yaml", "--no-progress",
        "--evidence", "evidence.pcap", "--report", "report.json", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert json.loads(run.stdout) == json.loads((tmp_path / "report.json").read_text())
    return tmp_path


def lines(run: subprocess.CompletedProcess[str]) -> list[list[str]]:
    return [line.split(None, 2) for line in run.stdout.splitlines()]


def test_report_provenance_names_every_file_with_its_hash(audited: Path) -> None:
    prov = json.loads((audited / "report.json").read_text())["provenance"]
    assert [i["path"] for i in prov["inputs"]] == ["egress.pcap", "demo_day.pcap.gz"]
    for inp in prov["inputs"]:
        assert inp["sha256"] == sha256_file(audited / inp["path"])
        assert inp["size"] == (audited / inp["path"]).stat().st_size
    assert [i["format"] for i in prov["inputs"]] == ["pcap", "pcap.gz"]
    assert prov["inputs"][1]["first_ts"] < prov["inputs"][1]["last_ts"]
    assert prov["policy"] == {
        "path": "site.yaml", "sha256": sha256_file(audited / "site.yaml"), "builtin": False,
    }  # fmt: skip
    evidence = prov["evidence"]
    assert evidence["path"] == "evidence.pcap" and evidence["packets"] > 0
    assert evidence["sha256"] == sha256_file(audited / "evidence.pcap")  # written before
    assert prov["command_line"][:3] == ["cctv-monitor", "replay", "egress.pcap"]
    assert prov["generated"].endswith("Z") and prov["tool"] == "cctv-monitor"


def test_everything_unchanged_verifies(audited: Path) -> None:
    run = cli("verify", "report.json", cwd=audited)
    assert run.returncode == 0, run.stdout + run.stderr
    assert lines(run) == [
        ["ok", "input", "egress.pcap"],
        ["ok", "input", "demo_day.pcap.gz"],
        ["ok", "policy", "site.yaml"],
        ["ok", "evidence", "evidence.pcap"],
    ]


def test_relative_paths_are_found_beside_the_report(audited: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path.parent / (tmp_path.name + "-elsewhere")
    elsewhere.mkdir()
    run = cli("verify", str(audited / "report.json"), cwd=elsewhere)
    assert run.returncode == 0, run.stdout
    assert [w[0] for w in lines(run)] == ["ok"] * 4
    assert "found at " in run.stdout


def test_a_changed_and_a_missing_file_fail(audited: Path) -> None:
    data = bytearray((audited / "egress.pcap").read_bytes())
    data[100] ^= 1
    (audited / "egress.pcap").write_bytes(bytes(data))
    (audited / "evidence.pcap").unlink()
    run = cli("verify", "report.json", cwd=audited)
    assert run.returncode == 1
    words = [(w[0], w[2].split()[0]) for w in lines(run)]
    assert words == [
        ("changed", "egress.pcap"),
        ("ok", "demo_day.pcap.gz"),
        ("ok", "site.yaml"),
        ("missing", "evidence.pcap"),
    ]
    assert f"recorded {sha256_file(PCAPS / 'egress.pcap')}" in run.stdout


def test_a_changed_policy_fails(audited: Path) -> None:
    with open(audited / "site.yaml", "a") as fp:
        fp.write("# edited\n")
    run = cli("verify", "report.json", cwd=audited)
    assert run.returncode == 1 and lines(run)[2][:2] == ["changed", "policy"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "No such file"),
        ("not json at all", "not a JSON report"),
        ('{"schema": "something/else"}', "not a cctv-monitor report"),
        ('{"schema": "cctv-monitor/report/v1", "provenance": null}', "no provenance"),
        ('{"schema": "cctv-monitor/report/v1", "provenance": {"inputs": [{}]}}', "has no path"),
        ("[1, 2]", "not a cctv-monitor report"),
    ],
)
def test_what_is_not_a_report_is_a_usage_error(
    tmp_path: Path, content: str | None, needle: str
) -> None:
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    run = cli("verify", str(path), cwd=tmp_path)
    assert run.returncode == 2
    assert run.stdout == "" and needle in run.stderr and "r.json" in run.stderr


def test_a_report_with_the_built_in_policy_and_no_evidence(tmp_path: Path) -> None:
    shutil.copy(PCAPS / "clean.pcap", tmp_path / "clean.pcap")
    run = cli("replay", "clean.pcap", "--no-progress", "--report", "r.json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    prov = json.loads((tmp_path / "r.json").read_text())["provenance"]
    assert prov["policy"] == {"path": None, "sha256": None, "builtin": True}
    assert prov["evidence"] is None
    run = cli("verify", "r.json", cwd=tmp_path)
    assert (run.returncode, lines(run)) == (0, [["ok", "input", "clean.pcap"]])


def test_an_input_that_was_missing_then_cannot_verify(tmp_path: Path) -> None:
    shutil.copy(PCAPS / "clean.pcap", tmp_path / "clean.pcap")
    run = cli(
        "replay", "clean.pcap", "gone.pcap", "--no-progress", "--report", "r.json", cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    run = cli("verify", "r.json", cwd=tmp_path)
    assert run.returncode == 1
    assert [w[:2] for w in lines(run)] == [["ok", "input"], ["missing", "input"]]
    (tmp_path / "gone.pcap").write_bytes(b"")  # there now, but nothing was recorded for it
    run = cli("verify", "r.json", cwd=tmp_path)
    assert run.returncode == 1 and lines(run)[1][0] == "changed"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_input_not_hashed_is_reported_as_such(tmp_path: Path, jobs: str) -> None:
    """replay --no-input-hash: the provenance records no SHA-256; verify says why it cannot
    check the file (same verdict and totals as a hashed run)."""
    shutil.copy(PCAPS / "egress.pcap", tmp_path / "egress.pcap")
    hashed = cli("replay", "egress.pcap", "--json", "--jobs", jobs, cwd=tmp_path)
    run = cli(
        "replay", "egress.pcap", "--no-input-hash", "--jobs", jobs, "--report", "r.json",
        "--json", cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == hashed.returncode == 1, run.stderr
    report, before = json.loads(run.stdout), json.loads(hashed.stdout)
    assert report["provenance"]["inputs"][0]["sha256"] is None
    assert before["provenance"]["inputs"][0]["sha256"] == sha256_file(tmp_path / "egress.pcap")
    assert (report["verdict"], report["totals"]) == (before["verdict"], before["totals"])
    run = cli("verify", "r.json", cwd=tmp_path)
    assert run.returncode == 1
    assert lines(run)[0][0] == "changed"
    assert "no SHA-256 recorded: the replay ran with --no-input-hash" in run.stdout
