"""What `replay` writes besides the JSON report, and its exit statuses."""

from __future__ import annotations

import io
import json
import subprocess
from contextlib import redirect_stdout
from pathlib import Path

import pandas as pd
import pytest
import yaml

from monitor.capture.offline import OfflineSource
from monitor.cli import main
from tests.cli_run import run_cli
from tests.requirements import require_tool

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
SITE = str(PCAPS / "site.yaml")
EXPECTED = yaml.safe_load((PCAPS / "expected.yaml").read_text())["captures"]


cli = run_cli


def test_evidence_holds_exactly_the_packets_of_flagged_flows(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence.pcap"
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(
            [
                "replay",
                str(PCAPS / "egress.pcap"),
                "--config",
                SITE,
                "--json",
                "--no-progress",
                "--evidence",
                str(evidence),
            ]
        )
    assert status == 1
    report = json.loads(out.getvalue())
    want = sum(f["packets"] for f in report["findings"])
    source = OfflineSource([str(evidence)])
    got = sum(len(b) for b in source.batches())
    assert got == want == sum(f["packets"] for f in EXPECTED["egress.pcap"]["findings"])
    tshark = require_tool("tshark")
    count = subprocess.run(
        [tshark, "-r", str(evidence), "-T", "fields", "-e", "frame.number"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(count) == want


def test_clean_capture_writes_an_empty_evidence_file_and_exits_0(tmp_path: Path) -> None:
    run = cli(
        "replay",
        str(PCAPS / "clean.pcap"),
        "--config",
        SITE,
        "--no-progress",
        "--evidence",
        str(tmp_path / "e.pcap"),
    )
    assert run.returncode == 0, run.stderr
    assert "CLEAN" in run.stdout.upper()
    assert sum(len(b) for b in OfflineSource([str(tmp_path / "e.pcap")]).batches()) == 0


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_flow_table_has_every_flow(tmp_path: Path, suffix: str) -> None:
    flows = tmp_path / f"flows{suffix}"
    out = io.StringIO()
    with redirect_stdout(out):
        main(
            [
                "replay",
                str(PCAPS / "vendor_cloud.pcap"),
                "--config",
                SITE,
                "--json",
                "--no-progress",
                "--flows",
                str(flows),
            ]
        )
    report = json.loads(out.getvalue())
    frame = pd.read_csv(flows) if suffix == ".csv" else pd.read_parquet(flows)
    assert len(frame) == report["totals"]["flows"]
    assert int(frame["orig_pkts"].sum() + frame["resp_pkts"].sum()) <= report["totals"]["packets"]
    cloud = frame[frame["verdict"] == "vendor_cloud"]
    assert set(cloud["vendor"]) == {"hikvision", "dahua", "xiongmai"}


def test_html_and_markdown_reports(tmp_path: Path) -> None:
    html, md = tmp_path / "r.html", tmp_path / "r.md"
    for path in (html, md):
        run = cli(
            "replay",
            str(PCAPS / "demo_day.pcap.gz"),
            "--config",
            SITE,
            "--no-progress",
            "--report",
            str(path),
        )
        assert run.returncode == 1, run.stderr
    text = html.read_text()
    assert "litedev.hik-connect.com" in text and "<script" not in text.lower()
    assert "vendor_cloud" in md.read_text()


def test_metrics_out_backfills_into_a_prometheus_tsdb(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    om = tmp_path / "m.om"
    run = cli(
        "replay",
        str(PCAPS / "demo_day.pcap.gz"),
        "--config",
        SITE,
        "--no-progress",
        "--json",
        "--metrics-out",
        str(om),
    )
    assert run.returncode == 1, run.stderr
    text = om.read_text()
    assert text.rstrip().endswith("# EOF")
    assert 'cctv_findings_total{site="demo-hansaplatz"' in text
    backfill = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(om), str(tmp_path / "tsdb")],
        capture_output=True,
        text=True,
    )
    assert backfill.returncode == 0, backfill.stderr
    assert any((tmp_path / "tsdb").iterdir())


def test_nothing_readable_exits_3(tmp_path: Path) -> None:
    junk = tmp_path / "notes.pcap"
    junk.write_text("this is not a capture\n")
    run = cli("replay", str(junk), str(tmp_path / "missing.pcap"), "--json", "--no-progress")
    assert run.returncode == 3
    report = json.loads(run.stdout)
    assert report["totals"]["packets"] == 0
    assert all(i["errors"] for i in report["inputs"])


def test_a_bad_policy_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text("site: x\nclosed_networks: [10.0.0.0/8]\ndevices:\n  - {ip: 10.0.0.300}\n")
    run = cli("replay", str(PCAPS / "clean.pcap"), "--config", str(bad), "--json")
    assert run.returncode == 2
    assert "site.yaml:4" in run.stderr and "devices[0].ip" in run.stderr
    assert run.stdout == ""
    unknown = tmp_path / "typo.yaml"
    unknown.write_text("site: x\nclosed_network: [10.0.0.0/8]\n")
    run = cli("check-config", str(unknown))
    assert run.returncode == 2 and "typo.yaml:2" in run.stderr and "closed_network" in run.stderr


def test_check_config_and_catalog_commands() -> None:
    run = cli("check-config", SITE)
    assert run.returncode == 0 and "demo-hansaplatz" in run.stdout and "cam-hansa-01" in run.stdout
    cat = cli("catalog")
    assert cat.returncode == 0 and "hik-connect.com" in cat.stdout and "hikvision" in cat.stdout
    as_json = json.loads(cli("catalog", "--json").stdout)
    assert as_json


def test_usage_error_exits_2() -> None:
    assert cli("replay").returncode == 2
