"""Verdicts that cannot lie: what `replay` says when it could not see everything.

One test per problem the issue reproduced: a damaged .gz read up to the damage, nothing
readable (missing file, directory, text named .pcap), a valid capture without packets,
the same capture given twice, a SYN behind 9 VLAN tags; and gaps and recorded drops.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import struct
import subprocess
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from scapy.all import IP, TCP, UDP, Dot1Q, Ether, wrpcap

from monitor.capture.hashing import sha256_file
from monitor.cli import main
from tests.cli_run import run_cli
from tests.requirements import require_tool
from tests.unit.test_capture_pcapng import block, epb, idb, option, shb

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
DEMO = PCAPS / "demo_day.pcap.gz"
T0 = 1_772_438_400.0


cli = run_cli


def replay_json(*args: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["replay", *args, "--json", "--no-progress"])
    return status, json.loads(out.getvalue())


def damaged_demo(tmp_path: Path) -> Path:
    """demo_day.pcap.gz with 200 bytes in the middle of the compressed stream zeroed."""
    data = bytearray(DEMO.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 200] = bytes(200)
    path = tmp_path / "demo_damaged.pcap.gz"
    path.write_bytes(bytes(data))
    return path


def tshark_count(path: Path) -> int:
    """Packets tshark reads from ``path`` (up to damage, like us)."""
    tshark = require_tool("tshark")
    run = subprocess.run(
        [tshark, "-r", str(path), "-T", "fields", "-e", "frame.number"],
        capture_output=True,
        text=True,
    )
    return len(run.stdout.split())


def test_damaged_gzip_is_read_up_to_the_damage(tmp_path: Path) -> None:
    path = damaged_demo(tmp_path)
    status, report = replay_json(str(path), "--config", str(PCAPS / "site.yaml"))
    assert status in (0, 1)  # what was read is a verdict, not "nothing readable"
    (inp,) = report["inputs"]
    assert 0 < inp["packets"] < 2227  # the whole file holds 2,227
    assert inp["packets"] == report["totals"]["packets"] == tshark_count(path)
    assert inp["truncated"] is True
    (error,) = inp["errors"]
    assert error.startswith("demo_damaged.pcap.gz: ") and "byte offset" in error
    (cov,) = report["coverage"]["inputs"]
    assert cov["status"] == "partial" and cov["complete"] is False
    assert cov["damage_offset"] == cov["read_bytes"] and str(cov["damage_offset"]) in error
    assert cov["size"] == path.stat().st_size
    assert report["coverage"]["complete"] is False
    assert (
        "1 input not read completely (demo_damaged.pcap.gz: stopped at byte"
        in (report["coverage"]["reasons"][0])
    )
    assert report["provenance"]["inputs"][0]["sha256"] == sha256_file(path)
    markdown = cli("replay", str(path), "--config", str(PCAPS / "site.yaml"), "--no-progress")
    assert "FINDINGS: " in markdown.stdout  # the headline goes on, escaped for Markdown:
    assert "over incomplete data: 1 input not read completely \\(demo\\_damaged" in markdown.stdout


def unreadable(tmp_path: Path, kind: str) -> Path:
    if kind == "missing":
        return tmp_path / "missing.pcap"
    if kind == "directory":
        (tmp_path / "dir.pcap").mkdir()
        return tmp_path / "dir.pcap"
    text = tmp_path / "notes.pcap"
    text.write_text("this is not a capture\n")
    return text


@pytest.mark.parametrize("kind", ["missing", "directory", "text"])
def test_nothing_readable_is_no_data_never_clean(tmp_path: Path, kind: str) -> None:
    path = str(unreadable(tmp_path, kind))
    status, report = replay_json(path)
    assert status == 3
    assert report["verdict"] == "no_data"
    assert report["inputs"][0]["errors"] and report["totals"]["packets"] == 0
    assert report["coverage"]["inputs"][0]["status"] == "unreadable"
    for suffix in ("md", "html"):
        out = tmp_path / f"r.{suffix}"
        run = cli("replay", path, "--no-progress", "--report", str(out))
        assert run.returncode == 3, run.stderr
        text = out.read_text()
        assert "NO DATA" in text and "CLEAN" not in text
    assert "NO DATA" in run.stdout and "CLEAN" not in run.stdout  # the Markdown on stdout


def test_all_three_together_are_still_no_data(tmp_path: Path) -> None:
    paths = [str(unreadable(tmp_path, k)) for k in ("missing", "directory", "text")]
    status, report = replay_json(*paths)
    assert (status, report["verdict"]) == (3, "no_data")
    assert [len(i["errors"]) for i in report["inputs"]] == [1, 1, 1]


@pytest.mark.parametrize("suffix", ["pcap", "pcapng", "pcap.gz"])
def test_a_valid_capture_without_packets_is_no_data(tmp_path: Path, suffix: str) -> None:
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    data = {"pcap": header, "pcapng": shb() + idb(1), "pcap.gz": gzip.compress(header)}[suffix]
    path = tmp_path / f"empty.{suffix}"
    path.write_bytes(data)
    status, report = replay_json(str(path))
    assert (status, report["verdict"]) == (3, "no_data")
    (inp,) = report["inputs"]
    assert inp["errors"] == [] and inp["packets"] == 0  # a fine file, just empty
    assert report["coverage"]["inputs"][0]["status"] == "complete"
    run = cli("replay", str(path), "--no-progress")
    assert run.returncode == 3 and "**NO DATA: " in run.stdout


def test_the_same_capture_twice_is_counted_once(tmp_path: Path) -> None:
    egress = str(PCAPS / "egress.pcap")
    copy = tmp_path / "egress-copy.pcap"
    shutil.copy(egress, copy)
    site = str(PCAPS / "site.yaml")
    once_status, once = replay_json(egress, "--config", site)
    run = cli("replay", egress, egress, str(copy), "--config", site, "--json", "--no-progress")
    assert run.returncode == once_status == 1
    twice = json.loads(run.stdout)
    assert twice["totals"] == once["totals"]
    assert twice["findings"] == once["findings"]
    assert [d["packets"] for d in twice["devices"]] == [d["packets"] for d in once["devices"]]
    _, again, other = twice["inputs"]
    assert (again["duplicate_of"], other["duplicate_of"]) == (egress, egress)
    assert again["packets"] == other["packets"] == 0 and again["errors"] == []
    statuses = [i["status"] for i in twice["coverage"]["inputs"]]
    assert statuses == ["complete", "duplicate", "duplicate"]
    assert twice["coverage"]["complete"] is True  # nothing was missed
    warnings = [line for line in run.stderr.splitlines() if "same content (SHA-256)" in line]
    assert len(warnings) == 2 and "egress-copy.pcap" in warnings[1]


def test_evidence_is_not_doubled_by_a_duplicate_input(tmp_path: Path) -> None:
    egress = str(PCAPS / "egress.pcap")
    ev1, ev2 = tmp_path / "one.pcap", tmp_path / "two.pcap"
    assert cli("replay", egress, "--no-progress", "--evidence", str(ev1)).returncode == 1
    assert cli("replay", egress, egress, "--no-progress", "--evidence", str(ev2)).returncode == 1
    assert ev1.read_bytes() == ev2.read_bytes()


def _vlan_syn(tags: int) -> Ether:
    frame = Ether(src="02:00:00:00:00:05", dst="02:00:00:00:00:01")
    for i in range(tags):
        frame = frame / Dot1Q(vlan=10 + i)
    return frame / IP(src="10.20.0.5", dst="198.51.100.7") / TCP(sport=40000, dport=443, flags="S")


def _capture(tmp_path: Path, name: str, frames: list[Ether], times: list[float]) -> Path:
    for frame, when in zip(frames, times, strict=True):
        frame.time = when
    path = tmp_path / name
    wrpcap(str(path), frames)
    return path


def _internal() -> Ether:
    return Ether() / IP(src="10.20.0.5", dst="10.20.0.2") / UDP(sport=5000, dport=554)


@pytest.mark.parametrize("tags", [8, 9])
def test_a_syn_behind_too_many_vlan_tags_is_a_coverage_gap(tmp_path: Path, tags: int) -> None:
    path = _capture(tmp_path, "vlan.pcap", [_internal(), _vlan_syn(tags)], [T0, T0 + 1])
    status, report = replay_json(str(path))
    if tags == 8:  # still decoded: the SYN to the outside is a finding
        assert status == 1 and [f["kind"] for f in report["findings"]] == ["egress"]
        assert report["coverage"]["complete"] is True
        return
    assert (status, report["verdict"]) == (0, "clean")
    assert {k: v for k, v in report["coverage"]["decode_errors"].items() if v} == {"vlan": 1}
    assert report["coverage"]["complete"] is False
    assert report["coverage"]["reasons"] == ["1 frame could not be decoded (vlan: 1)"]
    run = cli("replay", str(path), "--no-progress")
    assert run.returncode == 0
    assert "**CLEAN over incomplete data: 1 frame could not be decoded \\(vlan: 1\\)**" in (
        run.stdout
    )
    assert "CLEAN: no traffic left" not in run.stdout


def test_undecodable_frames_are_counted_on_the_input_they_came_from(tmp_path: Path) -> None:
    deep = _capture(tmp_path, "deep.pcap", [_internal(), _vlan_syn(9), _vlan_syn(9)], [T0] * 3)
    plain = _capture(tmp_path, "plain.pcap", [_internal(), _vlan_syn(1)], [T0 + 5, T0 + 6])
    _, report = replay_json(str(deep), str(plain))
    assert [(i["packets"], i["undecodable"]) for i in report["inputs"]] == [(3, 2), (2, 0)]
    assert report["coverage"]["decode_errors"]["vlan"] == 2


def test_gaps_longer_than_the_threshold_are_coverage_gaps(tmp_path: Path) -> None:
    times = [T0, T0 + 10, T0 + 1000, T0 + 1010, T0 + 1200]
    path = _capture(tmp_path, "gaps.pcap", [_internal() for _ in times], times)
    status, report = replay_json(str(path))
    cov = report["coverage"]
    assert status == 0 and cov["gap_threshold_seconds"] == 300.0
    assert cov["gaps"] == [{"start": T0 + 10, "end": T0 + 1000, "seconds": 990.0}]
    assert (cov["gaps_total"], cov["gap_seconds_total"]) == (1, 990.0)
    assert cov["complete"] is False
    assert cov["reasons"] == ["1 gap of more than 5 min without any packet (longest 16.5 min)"]
    _, tighter = replay_json(str(path), "--gap-threshold", "150")
    assert tighter["coverage"]["gaps_total"] == 2
    _, off = replay_json(str(path), "--gap-threshold", "0")
    assert off["coverage"]["gaps"] == [] and off["coverage"]["gap_threshold_seconds"] is None
    assert off["coverage"]["complete"] is True


def _isb(iface: int, ifdrop: int, osdrop: int) -> bytes:
    opts = option(4, struct.pack("<Q", 1000)) + option(5, struct.pack("<Q", ifdrop))
    opts += option(7, struct.pack("<Q", osdrop)) + option(0, b"")
    return block(5, struct.pack("<III", iface, 0, 0) + opts)


def test_interface_drops_recorded_by_the_capture_are_shown(tmp_path: Path) -> None:
    frame = bytes(_internal())
    ticks = int(T0 * 1_000_000)
    body = shb() + idb(1) + epb(0, ticks, frame) + epb(0, ticks + 10, frame) + _isb(0, 3, 40)
    path = tmp_path / "dropped.pcapng"
    path.write_bytes(body)
    status, report = replay_json(str(path))
    cov = report["coverage"]
    assert status == 0 and report["verdict"] == "clean"
    assert cov["interface_drops"] == [
        {"input": str(path), "interface": 0, "name": None, "received": 1000,
         "ifdrop": 3, "osdrop": 40},
    ]  # fmt: skip
    assert cov["complete"] is False
    assert cov["reasons"] == ["43 packets dropped while capturing (pcapng statistics)"]


def test_real_dumpcap_statistics_are_read() -> None:
    """A dumpcap capture's ISB (0 dropped) is listed and does not make the data incomplete."""
    from tests.requirements import require_shared

    path = require_shared("pcaps-real/ndpi_rtsp_setup_http.pcapng")
    capinfos = subprocess.run(
        [require_tool("capinfos"), str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "Number of stat entries = 1" in capinfos
    _, report = replay_json(str(path))
    (drops,) = report["coverage"]["interface_drops"]
    assert (drops["received"], drops["ifdrop"], drops["osdrop"]) == (19240, 0, None)
    assert drops["name"] in capinfos
