"""Start-up: a small capture replays without loading what it does not use, and commands
that read no packet load no packet path.

A replay of a few thousand packets is mostly interpreter start-up and imports, so the
modules only some outputs need (HTML, Markdown, OpenMetrics, pandas for Parquet flow tables,
the YAML parser for a site policy, cryptography for QUIC) load when those are asked for.
``--version``, ``--help``, ``check-config``, ``catalog`` and ``verify`` never import numpy
or the packet path (80-110 ms instead of a replay's ~230 ms on the build VM).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli_run import ROOT

# Runs the CLI in a child process, then lists what it imported.
CHILD = """
import contextlib, io, json, runpy, sys
sys.argv = ["cctv-monitor", *sys.argv[1:]]
out, code = io.StringIO(), None
with contextlib.redirect_stdout(out):
    try:
        runpy.run_module("monitor", run_name="__main__")
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "stdout": out.getvalue(), "modules": sorted(sys.modules)}))
"""
HEAVY = ("pandas", "pyarrow", "yaml", "jsonschema", "prometheus_client", "cryptography")
RENDERERS = (
    "monitor.report.html",
    "monitor.report.markdown",
    "monitor.report.openmetrics",
    "monitor.report.flows_table",
    "monitor.report.flows_csv",
    "monitor.report.eve_file",  # --eve
    "monitor.partition",  # --jobs, --scheduler
)
PACKET_PATH = ("numpy", "monitor.pipeline", "monitor.flow.table", "monitor.decode.frames")


def _replay(*args: str) -> dict[str, object]:
    return _command("replay", *args)


def _command(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def _loaded(modules: object, names: tuple[str, ...]) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if m in names or m.split(".")[0] in names]


def test_json_replay_loads_no_renderer_and_no_heavy_library() -> None:
    run = _replay("pcaps/egress.pcap", "--json")
    assert run["code"] == 1  # findings: the replay itself ran
    report = json.loads(str(run["stdout"]))
    assert report["verdict"] == "findings" and report["totals"]["packets"] > 0
    assert _loaded(run["modules"], HEAVY) == []
    assert _loaded(run["modules"], RENDERERS) == []


def test_renderers_load_when_their_output_is_asked_for(tmp_path: Path) -> None:
    run = _replay("pcaps/egress.pcap", "-q", "--report", str(tmp_path / "r.html"))
    assert run["code"] == 1
    assert _loaded(run["modules"], RENDERERS) == ["monitor.report.html"]
    run = _replay("pcaps/egress.pcap", "-q", "--eve", str(tmp_path / "eve.json"), "--jobs", "2")
    assert run["code"] == 1 and (tmp_path / "eve.json").stat().st_size > 0
    assert _loaded(run["modules"], RENDERERS) == ["monitor.partition", "monitor.report.eve_file"]
    run = _replay("pcaps/egress.pcap")  # the Markdown summary on stdout
    assert "egress" in str(run["stdout"])
    assert "monitor.report.markdown" in _loaded(run["modules"], RENDERERS)


def test_a_csv_flow_table_needs_no_pandas_and_parquet_does(tmp_path: Path) -> None:
    csv, parquet = tmp_path / "f.csv", tmp_path / "f.parquet"
    run = _replay("pcaps/egress.pcap", "-q", "--flows", str(csv))
    assert run["code"] == 1 and csv.read_text().startswith("uid,proto,")
    assert _loaded(run["modules"], HEAVY) == []
    run = _replay("pcaps/egress.pcap", "-q", "--flows", str(parquet))
    assert run["code"] == 1 and parquet.stat().st_size > 0
    assert "pandas" in _loaded(run["modules"], HEAVY)


def test_commands_that_read_no_packet_load_no_packet_path(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text(str(_replay("pcaps/egress.pcap", "--json")["stdout"]))
    light = {
        "--version": ("--version",),
        "--help": ("--help",),
        "check-config": ("check-config", "pcaps/site.yaml"),
        "catalog": ("catalog", "--json"),
        "verify": ("verify", str(report)),
    }
    for name, args in light.items():
        run = _command(*args)
        assert run["code"] in (0, None), (name, run["stdout"])
        assert str(run["stdout"]).strip(), name  # it answered
        assert _loaded(run["modules"], PACKET_PATH) == [], name
    replay = _replay("pcaps/egress.pcap", "-q")  # the probe sees the packet path when used
    modules = replay["modules"]
    assert isinstance(modules, list) and set(PACKET_PATH) <= set(modules)
