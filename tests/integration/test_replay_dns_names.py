"""A DNS flow's query is `query_name`, never the resolver's `peer_name` (issue 10, point 8).

Cross-checked with tshark: the names tshark reads from the queries are exactly the
`query_name`s, and no DNS flow's `peer_name` is one of them.
"""

from __future__ import annotations

import io
import json
import subprocess
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pandas as pd

from monitor.cli import main
from monitor.report.flows_table import read_flows
from tests.requirements import require_tool

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
SITE = str(PCAPS / "site.yaml")


def _replay(pcap: str, flows: Path) -> dict[str, Any]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["replay", str(PCAPS / pcap), "--config", SITE, "--json", "--no-progress",
                       "--flows", str(flows)])  # fmt: skip
    assert status == 1
    return json.loads(out.getvalue())


def _tshark_queries(pcap: str) -> set[str]:
    tshark = require_tool("tshark")
    done = subprocess.run(
        [tshark, "-r", str(PCAPS / pcap), "-Y", "dns.flags.response == 0", "-T", "fields",
         "-e", "dns.qry.name"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {line for line in done.stdout.split() if line}


def test_external_resolver_findings_name_the_query_not_the_resolver(tmp_path: Path) -> None:
    report = _replay("external_resolver.pcap", tmp_path / "f.csv")
    got = {(f["peer"], f["peer_port"]): (f["peer_name"], f["query_name"])
           for f in report["findings"] if f["kind"] == "external_resolver"}  # fmt: skip
    assert got == {
        ("192.0.2.53", 53): (None, "nvr.cctv.local"),
        ("198.51.100.53", 53): (None, "ntp.example.com"),
        ("10.20.0.54", 53): (None, "nvr.cctv.local"),
        ("203.0.113.53", 853): ("dns.example.net", None),  # DoT: the SNI is the resolver's
    }
    resolver = next(f for f in report["findings"] if f["peer"] == "192.0.2.53")
    assert "query for nvr.cctv.local" in resolver["evidence"]


def test_vendor_lookup_findings_carry_the_query(tmp_path: Path) -> None:
    report = _replay("vendor_lookup.pcap", tmp_path / "f.parquet")
    lookups = [f for f in report["findings"] if f["kind"] == "vendor_lookup"]
    assert sorted(f["query_name"] for f in lookups) == [
        "dev.hik-connect.com",
        "www.easy4ipcloud.com",
    ]
    assert all(f["peer"] == "10.20.0.53" and f["peer_name"] is None for f in lookups)


def test_flows_table_has_query_name_beside_peer_name(tmp_path: Path) -> None:
    for suffix in (".csv", ".parquet"):
        path = tmp_path / f"flows{suffix}"
        _replay("vendor_cloud.pcap", path)
        frame = read_flows(path)
        dns = frame[frame["resp_port"] == 53]
        assert len(dns) == 2 and dns["peer_name"].isna().all()  # the resolver has no name
        asked = set(dns["query_name"])
        assert asked == _tshark_queries("vendor_cloud.pcap")
        assert asked == {"nvr.cctv.local", "litedev.hik-connect.com"}
        assert frame[frame["resp_port"] != 53]["query_name"].isna().all()
        cloud = frame[frame["resp_addr"] == "203.0.113.50"]
        assert list(cloud["peer_name"]) == ["litedev.hik-connect.com"]  # the peer's own name
        plain = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
        assert list(plain.columns).index("query_name") == list(plain.columns).index("peer_name") + 1
