"""`--eve` paths are checked before the first packet is read, like every output."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import build_parser, main
from monitor.commands.live_cmd import build_config
from monitor.commands.outputs import OutputError, replay_outputs
from monitor.pipeline import PipelineSettings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "pcaps" / "egress.pcap"


def test_replay_lists_eve_among_its_outputs() -> None:
    args = build_parser().parse_args(["replay", "x.pcap", "--eve", "e.json", "--flows", "f.csv"])
    assert [(o.option, o.path, o.suffixes) for o in replay_outputs(args)] == [
        ("--flows", "f.csv", (".csv", ".parquet")), ("--eve", "e.json", None),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--eve", "/nodir/eve.json"], "--eve /nodir/eve.json: directory /nodir does not exist"),
        (["--eve", "{tmp}/r.json", "--report", "{tmp}/r.json"],
         "--eve {tmp}/r.json: is the same file as --report {tmp}/r.json"),
        (["--eve", str(SAMPLE)], f"--eve {SAMPLE}: is the same file as the input {SAMPLE}"),
        (["--eve", "{tmp}"], "--eve {tmp}: is a directory, not a file"),
    ],
)  # fmt: skip
def test_replay_refuses_a_bad_eve_path_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    extra = [e.format(tmp=tmp_path) for e in extra]
    status = main(["replay", str(SAMPLE), "--no-progress", *extra])
    assert status == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists(), "nothing written"


def test_replay_writes_eve_and_the_report(tmp_path: Path) -> None:
    eve = tmp_path / "eve.json"
    status = main(
        ["replay", str(SAMPLE), "-q", "--eve", str(eve), "--report", str(tmp_path / "r.md")]
    )
    assert status == 1 and eve.read_text().count('"event_type":"alert"') >= 1


def test_live_refuses_a_bad_eve_path(tmp_path: Path) -> None:
    def config(*extra: str) -> object:
        args = build_parser().parse_args(["live", "--interface", "eth1", *extra])
        return build_config(args, PipelineSettings())

    same = str(tmp_path / "a.jsonl")
    with pytest.raises(OutputError, match=f"--eve {same}: is the same file as --alerts {same}"):
        config("--alerts", same, "--eve", same)
    with pytest.raises(OutputError, match=r"--eve /nodir/e\.json: directory /nodir does not"):
        config("--eve", "/nodir/e.json")
    (tmp_path / "old.json").write_text("{}\n")
    config("--eve", str(tmp_path / "old.json"))  # appended to, like the alert log
    assert (tmp_path / "old.json").read_text() == "{}\n"


def test_partition_flow_events_are_written_in_the_order_flows_ended(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """replay --jobs: each partition's lines come with (batch, first packet time)."""
    from monitor.report.eve_file import EveFile

    path = tmp_path / "eve.json"
    eve = EveFile(str(path), "site")
    zero = ([b"a1\n", b"a2\n", b"a3\n"], [(1, 5.0), (2, 1.0), (2, 9.0)])
    one = ([b"b1\n", b"b2\n"], [(1, 7.0), (2, 3.0)])
    eve.take([zero, one])
    eve.close()
    assert path.read_text().split() == ["a1", "b1", "a2", "b2", "a3"]
    assert eve.flows == 5
