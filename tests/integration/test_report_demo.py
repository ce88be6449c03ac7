"""The demo report as `make demo` writes it: the answer first, evidence in words, and the
bytes each device sent outside cross-checked frame by frame with tshark."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.requirements import require_tool
from tests.waiting import scaled

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "pcaps" / "demo_day.pcap.gz"
SITE = ROOT / "pcaps" / "site.yaml"
# frames from the closed networks (pcaps/site.yaml) to addresses that can leave the segment
LEAVING = (
    "(ip.src == 10.20.0.0/16 && !(ip.dst == 10.20.0.0/16) && !(ip.dst == 224.0.0.0/4)"
    " && !(ip.dst == 255.255.255.255) && !(ip.dst == 169.254.0.0/16))"
    " || (ipv6.src == fd20::/48 && !(ipv6.dst == fd20::/48) && !(ipv6.dst == ff00::/8)"
    " && !(ipv6.dst == fe80::/10))"
)
REPR = re.compile(r"\b[A-Z]\w+\(\w+=|=None\b|\bNone\b")
WRONG_PLURAL = re.compile(
    r"(?<![\d,.])1 (packets|flows|findings|devices|addresses|ports|peers|bytes|inputs|errors"
    r"|seconds|endpoints)\b"
)


def _replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "replay", str(DEMO), "--config", str(SITE),
         "--no-progress", *args],
        capture_output=True, text=True, timeout=scaled(120), cwd=ROOT,
    )  # fmt: skip


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("demo")
    texts = {}
    for suffix in ("md", "html", "json"):
        run = _replay("--report", str(out / f"r.{suffix}"))
        assert run.returncode == 1, run.stderr
        texts[suffix] = (out / f"r.{suffix}").read_text()
    return texts


def _section(md: str, title: str) -> str:
    start = md.index(f"\n{title}\n")
    end = md.find("\n#", start + len(title) + 2)
    return md[start:end]


def _sent_out(md: str) -> dict[str, int]:
    """Device -> bytes sent out, from the Markdown answer's table."""
    table = _section(md, "### Devices that exchanged traffic with the outside")
    rows = [line.split(" | ") for line in table.strip().splitlines()[4:]]  # after the head
    return {r[0].lstrip("| "): int(r[5].split(" B")[0].replace(",", "")) for r in rows}


def test_the_answer_comes_first(reports: dict[str, str]) -> None:
    md, html = reports["md"], reports["html"]
    order = ["\n## Is the closed network closed?\n", "\n## Findings by kind\n"]
    order += ["\n## Devices\n", "\n## What was read\n"]
    assert [md.index(h) for h in order] == sorted(md.index(h) for h in order)
    assert md.index("**No: 6 devices exchanged traffic with 14 addresses outside") < md.index(
        "### Devices that exchanged traffic"
    )
    ids = ["answer", "charts", "findings", "devices", "inputs"]
    at = [html.index(f'<section id="{i}">') for i in ids]
    assert at == sorted(at)


def test_the_answer_agrees_with_the_json_report(reports: dict[str, str]) -> None:
    report = json.loads(reports["json"])
    crossing = {"egress", "vendor_cloud", "inbound"}
    devices = {f["device"] for f in report["findings"] if f["kind"] in crossing}
    devices |= {f["device"] for f in report["findings"] if f["kind"] == "external_resolver"
                and "outside the closed networks" in f["evidence"]}  # fmt: skip
    assert set(_sent_out(reports["md"])) == devices
    endpoints = {f["endpoint"] for f in report["findings"] if f["kind"] == "vendor_cloud"}
    table = _section(reports["md"], "### Vendor endpoints")
    rows = table.strip().splitlines()[4:]
    assert {line.split(" | ")[0].lstrip("| ") for line in rows} == endpoints


def test_evidence_reads_as_plain_text(reports: dict[str, str]) -> None:
    for name in ("md", "html"):
        text = reports[name]
        assert not REPR.search(text), REPR.search(text)
        assert not WRONG_PLURAL.search(text), WRONG_PLURAL.search(text)
    html = reports["html"]
    assert "UPnP AddPortMapping (WANIPConnection) to forward external port 8000/tcp" in html
    assert "NAT-PMP request to map external port 37777 to internal port 37777/tcp" in html
    assert "TLS SNI eucas.ezvizlife.com belongs to ezviz-cas" in html
    assert "fd20::11 to 2001:db8::443 port 443/tcp" in html  # the port is not glued on
    assert "1 packet, 83 B" in html


@pytest.mark.tools
def test_bytes_sent_outside_match_tshark(reports: dict[str, str]) -> None:
    tshark = require_tool("tshark")
    run = subprocess.run(
        [tshark, "-r", str(DEMO), "-Y", LEAVING, "-T", "fields", "-e", "ip.src", "-e",
         "ipv6.src", "-e", "frame.len"],
        capture_output=True, text=True, timeout=scaled(120), check=True,
    )  # fmt: skip
    want: Counter[str] = Counter()
    for line in run.stdout.splitlines():
        *sources, size = line.split("\t")
        want[next(s for s in sources if s)] += int(size)
    assert _sent_out(reports["md"]) == dict(want)
    assert len(want) == 6


def test_readme_shows_the_report_at_1400_px() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/img/report.png)" in readme
    png = (ROOT / "docs" / "img" / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width == 1400 and height > 1000
