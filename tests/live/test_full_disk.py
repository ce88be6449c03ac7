"""The alert log and the evidence pcaps on a real full disk (a small tmpfs; needs root).

In process: 944 findings go to an alert log on a 64 KiB tmpfs that a 48 KiB filler file
leaves nearly full. The file takes what fits, whole lines only; the rest waits (a bound of
50 lines here) or is counted lost. The filler is deleted (space returns): the next flush
writes the lines that waited, in order, and new findings get their lines at once. The
evidence pcaps on the same tmpfs fail, are counted, end in whole records, and resume.

A live sensor in a network namespace with its state directory on a tmpfs filled but for
64 KiB: a flood of 12,000 SYNs from 64 cameras to outside addresses and a camera streaming
to an outside address raise 12,001 findings. The scrape shows the failed writes (alerts and
evidence) and the lost findings (all but the 10,000 lines that wait and the few that got
in); once the filler goes, the waiting lines are written and a second stream reaches the
evidence pcaps. The stop log line says what was written and lost, matching the file, and
tshark reads every evidence pcap to the end.

``pytest -s`` prints the figures.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from bench.make_flood import flood, write_pcap
from monitor.capture.writer import PcapWriter
from monitor.live.alerts import AlertLog
from monitor.live.evidence import EvidenceOptions, EvidenceSink
from monitor.live.sink import RETRY_SECONDS
from monitor.model import FrameBatch
from tests.framebuild import batch_of
from tests.fulldisk import fill, small_tmpfs
from tests.requirements import require_tool
from tests.unit.test_live_alerts import T0, finding
from tests.waiting import wait_until

from .netns import PCAPS, Sensor, need, segment, total

SITE = "hamburg"


def whole_lines(path: Path) -> list[dict[str, object]]:
    text = path.read_text()
    assert text == "" or text.endswith("\n"), "the log ends in a whole line"
    return [json.loads(row) for row in text.splitlines()]


def lines_so_far(path: Path) -> int:
    """Whole lines in a file the sensor may be writing to right now."""
    return path.read_bytes().count(b"\n")


def syn_batch(n: int, t0: float) -> FrameBatch:
    frames = flood(n, np.arange(1, 17, dtype=np.uint64) + 0x0A140000, np.random.default_rng(n))
    return FrameBatch(
        frames.tobytes(),
        t0 + np.arange(n, dtype=np.float64) * 0.001,
        np.arange(n, dtype=np.int64) * frames.shape[1],
        np.full(n, frames.shape[1], dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        1,
    )


def test_alert_log_and_evidence_on_a_64k_tmpfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("monitor.live.sink.MAX_WAITING_LINES", 50)
    with small_tmpfs(tmp_path, "64k") as mnt:
        filler = mnt / "filler"
        filler.write_bytes(b"\0" * (48 << 10))
        path = mnt / "alerts.jsonl"
        log = AlertLog(str(path), lambda: SITE, throttle=0, rate=0, max_keys=5000)
        evidence = EvidenceSink(EvidenceOptions(str(mnt / "evidence"), 1 << 20, 1 << 20), 1600)
        raised = 944
        for i in range(raised):
            log.add(finding(T0 + i, peer=f"198.51.{i // 250}.{i % 250}"))
        every = np.ones(200, dtype=bool)
        evidence.write(syn_batch(200, T0), every)
        full = whole_lines(path)
        lost_full = log.lost_findings
        assert 0 < len(full) < raised and lost_full == raised - len(full) - 50
        assert log.write_errors >= 1 and evidence.write_errors == 1
        assert evidence.lost_packets == 200 - evidence.packets

        filler.unlink()  # space returns
        time.sleep(RETRY_SECONDS)  # the sink's timer: the next flush tries again
        log.flush_due(T0 + raised)
        after = whole_lines(path)
        assert len(after) == len(full) + 50, "the lines that waited are written"
        assert [r["peer"] for r in after] == [f"198.51.{i // 250}.{i % 250}" for i in range(
            len(after))], "in order, nothing between"  # fmt: skip
        evidence.write(syn_batch(100, T0 + 10), np.ones(100, dtype=bool))
        for i in range(20):
            log.add(finding(T0 + 2000 + i, peer=f"203.0.113.{i}"))
        log.close()
        evidence.close()
        lines = whole_lines(path)
        counted = sum(int(str(r["count"])) for r in lines)
        assert counted + log.lost_findings == raised + 20
        assert log.lost_findings == lost_full, "nothing lost once space returned"
        pcaps = sorted((mnt / "evidence").glob("evidence-*.pcap"))
        frames = _tshark_frames(pcaps, tmp_path)
        assert frames == evidence.packets == 100 + (200 - evidence.lost_packets)
        print(
            f"\n64 KiB tmpfs: {raised} findings raised; disk full: {len(full)} lines written, "
            f"50 waiting, {lost_full} lost ({log.write_errors} failed writes so far); space "
            f"back: {len(after)} written, then +20 findings: {len(lines)} lines, "
            f"{log.lost_findings} lost in all; evidence {evidence.packets} packets written, "
            f"{evidence.lost_packets} lost ({evidence.write_errors} failed writes)"
        )


def _tshark_frames(pcaps: list[Path], home: Path) -> int:
    tshark = require_tool("tshark")
    count = 0
    for pcap in pcaps:
        run = subprocess.run(
            [tshark, "-r", str(pcap), "-T", "fields", "-e", "frame.number"],
            capture_output=True,
            text=True,
            env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        )
        assert run.returncode == 0 and "cut short" not in run.stderr, run.stderr
        count += len(run.stdout.split())
    return count


SYNS = 12_000
CAMERAS = 64
ROOM = 64 << 10  # what the filled tmpfs leaves for the sensor's files
STREAM = 300  # datagrams of a camera's stream to an outside address, 100 a second


def stream_pcap(path: Path, port: int) -> Path:
    """A camera streaming to an outside address for 3 s: once the flow is flagged, the rest
    of its packets are evidence."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    frame = Ether(src="44:19:b6:00:00:0b", dst="00:11:22:33:44:55") / IP(
        src="10.20.1.11", dst="198.51.100.9"
    ) / UDP(sport=40000, dport=port) / (b"v" * 400)  # fmt: skip
    batch = batch_of([frame] * STREAM, [T0 + i / 100 for i in range(STREAM)])
    with PcapWriter(path, 1) as writer:
        writer.write_batch(batch)
    return path


@pytest.mark.slow
@pytest.mark.tools
@pytest.mark.parametrize("workers", [1, 2])
def test_live_sensor_on_a_full_disk(tmp_path: Path, workers: int) -> None:
    need("ip", "tcpreplay", "tshark")
    policy = tmp_path / "site.yaml"
    shutil.copy(PCAPS / "site.yaml", policy)
    sources = np.arange(1, CAMERAS + 1, dtype=np.uint64) + 0x0A140000
    syns = tmp_path / "syns.pcap"
    write_pcap(syns, flood(SYNS, sources, np.random.default_rng(7)), 1_772_438_400.0, 2.0)
    with small_tmpfs(tmp_path, "8m") as state, segment() as seg:
        alerts, evidence = state / "alerts.jsonl", state / "evidence"
        args = ("--config", str(policy), "--alerts", str(alerts), "--evidence-dir", str(evidence))
        args += ("--alerts-rate", "0", "--throttle", "0")  # a line per finding
        args += ("--workers", str(workers))
        sensor = Sensor(seg, tmp_path, args)
        try:
            sensor.start()
            room = state / "room"
            room.write_bytes(b"\0" * ROOM)
            filler = fill(state)
            room.unlink()
            seg.replay(syns)
            seg.replay(stream_pcap(tmp_path / "stream1.pcap", 9001), extra=())  # paced
            wait_until(lambda: _findings(sensor) > SYNS, 60, "every finding raised")
            wait_until(lambda: _lost(sensor) > 0, 30, "lost findings counted")
            full = sensor.scrape()
            raised_full = total(full["cctv_findings_total"])
            written_full = lines_so_far(alerts)
            errors = total(full["cctv_sink_write_errors_total"], sink="alerts")
            evidence_errors = total(full["cctv_sink_write_errors_total"], sink="evidence")
            lost = total(full["cctv_alerts_lost_total"])
            assert errors >= 1 and evidence_errors >= 1 and written_full > 0
            assert lost == raised_full - written_full - 10_000, "10,000 lines wait"
            kept_full = _frames(evidence, tmp_path)

            filler.unlink()  # space returns: the waiting lines go out within seconds
            wait_until(lambda: lines_so_far(alerts) >= written_full + 10_000, 30, "waiting lines")
            seg.replay(stream_pcap(tmp_path / "stream2.pcap", 9002), extra=())  # evidence again
            wait_until(lambda: _frames(evidence, tmp_path) > kept_full, 30, "new evidence")
            assert sensor.stop() == 0, sensor.log()
        finally:
            sensor.kill()
        log = sensor.log()
        records = whole_lines(alerts)
        kept = _frames(evidence, tmp_path)
    stopped = re.search(
        r"stopped: \d+ packets, (\d+) findings; .*; ([\d,]+) lines in \S+, ([\d,]+) lost "
        r"to write errors \(([\d,]+) findings; ([\d,]+) failed writes\)",
        log,
    )
    assert stopped, log
    print("\n" + stopped.group(0))
    print("\n".join(re.findall(r"evidence: .*failed writes\)", log)))
    findings, lines, lost_lines, lost_findings, failed = (
        int(g.replace(",", "")) for g in stopped.groups()
    )
    assert lines == len(records) and lost_findings == lost_lines == lost, "none lost after"
    assert sum(int(str(r["count"])) for r in records) + lost_findings == findings
    assert "alert log" in log and "writing again after" in log
    accounts = re.findall(r"evidence: ([\d,]+) packets written, ([\d,]+) lost", log)
    assert len(accounts) == workers, log  # each worker writes its own files
    ev_written, ev_lost = (sum(int(a[i].replace(",", "")) for a in accounts) for i in (0, 1))
    assert ev_written == kept and ev_lost > 0
    print(
        f"\nlive sensor ({workers} workers), state on a filled tmpfs with {ROOM >> 10} KiB "
        f"left: {raised_full:.0f} "
        f"findings raised; disk full: {written_full} lines written, 10,000 waiting, {lost:.0f} "
        f"lost, {errors:.0f} failed alert writes, {evidence_errors:.0f} failed evidence writes, "
        f"{kept_full} evidence packets kept; space back: {findings} findings, {lines} lines "
        f"in the file, {lost_lines} lines ({lost_findings} findings) lost in all, {failed} "
        f"failed alert writes; evidence {ev_written} packets written, {ev_lost} lost"
    )


def _frames(directory: Path, home: Path) -> int:
    return _tshark_frames(sorted(directory.glob("evidence-*.pcap")), home)


def _findings(sensor: Sensor) -> float:
    return total(sensor.scrape().get("cctv_findings_total", {}))


def _lost(sensor: Sensor) -> float:
    time.sleep(0.2)
    return total(sensor.scrape().get("cctv_alerts_lost_total", {}))
