"""monitor.commands.outputs: what makes an output path unusable, decided without writing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.cli import build_parser
from monitor.commands.outputs import (
    Output,
    OutputError,
    check_outputs,
    check_replay_outputs,
    replay_outputs,
)


def test_replay_outputs_in_order_with_their_suffixes() -> None:
    args = build_parser().parse_args(
        ["replay", "x.pcap", "--report", "a.md", "--flows", "f.parquet", "--report", "b.html",
         "--evidence", "e.pcap", "--metrics-out", "m.om"]
    )  # fmt: skip
    outs = replay_outputs(args)
    assert [(o.option, o.path) for o in outs] == [
        ("--report", "a.md"), ("--report", "b.html"), ("--flows", "f.parquet"),
        ("--evidence", "e.pcap"), ("--metrics-out", "m.om"),
    ]  # fmt: skip
    assert outs[0].suffixes == (".json", ".md", ".html")
    assert outs[2].suffixes == (".csv", ".parquet") and outs[3].suffixes is None


def test_suffixes_are_case_blind(tmp_path: Path) -> None:
    check_outputs([Output("--report", str(tmp_path / "R.HTML"), (".json", ".md", ".html"))])


def test_unwritable_directory_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked, kept = tmp_path / "locked", tmp_path / "kept.om"
    locked.mkdir()
    kept.write_text("old")
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if Path(p) in (locked, kept) else real(p, mode)
    )
    with pytest.raises(OutputError, match=f"--flows {locked}/f.csv: directory {locked} is not"):
        check_outputs([Output("--flows", str(locked / "f.csv"), (".csv",))])
    with pytest.raises(OutputError, match=f"--metrics-out {kept}: is not writable"):
        check_outputs([Output("--metrics-out", str(kept))])
    assert kept.read_text() == "old"


def test_a_trailing_slash_or_empty_path_is_no_file(tmp_path: Path) -> None:
    for path in (f"{tmp_path}/new/", ""):
        with pytest.raises(OutputError, match="is a directory"):
            check_outputs([Output("--evidence", path)])


def test_the_same_file_by_another_name(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    one, other = str(tmp_path / "m.om"), str(tmp_path / "d" / ".." / "m.om")
    with pytest.raises(OutputError, match="same file as --evidence"):
        check_outputs([Output("--evidence", one), Output("--metrics-out", other)])
    Path(one).write_text("")
    os.link(one, tmp_path / "hard.om")
    with pytest.raises(OutputError, match=f"same file as --config {one}"):
        check_outputs([Output("--metrics-out", str(tmp_path / "hard.om"))], [("--config", one)])


def test_dev_null_may_take_several_outputs() -> None:
    check_outputs([Output("--evidence", "/dev/null"), Output("--metrics-out", "/dev/null")])


def test_replay_inputs_include_the_policy(tmp_path: Path) -> None:
    policy = tmp_path / "site.yaml"
    policy.write_text("site: x\n")
    args = build_parser().parse_args(
        ["replay", "in.pcap", "--config", str(policy), "--metrics-out", str(policy)]
    )
    with pytest.raises(OutputError, match="same file as --config"):
        check_replay_outputs(args)


def test_live_checks_its_alert_log_and_evidence_directory(tmp_path: Path) -> None:
    from monitor.commands.live_cmd import build_config
    from monitor.pipeline import PipelineSettings

    def config(*extra: str) -> object:
        args = build_parser().parse_args(["live", "--interface", "eth1", *extra])
        return build_config(args, PipelineSettings())

    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match=r"--alerts /nodir/a\.jsonl: directory /nodir does not"):
        config("--alerts", "/nodir/a.jsonl")
    with pytest.raises(OutputError, match=f"--alerts {tmp_path}: is a directory"):
        config("--alerts", str(tmp_path))
    bad = tmp_path / "file" / "ev"
    with pytest.raises(OutputError, match=f"--evidence-dir {bad}: {tmp_path}/file is not a dir"):
        config("--evidence-dir", str(bad))
    # a log that exists is appended to; a missing evidence directory is made at the first packet
    (tmp_path / "a.jsonl").write_text("{}\n")
    config("--alerts", str(tmp_path / "a.jsonl"), "--evidence-dir", str(tmp_path / "new" / "ev"))
    assert (tmp_path / "a.jsonl").read_text() == "{}\n" and not (tmp_path / "new").exists()
