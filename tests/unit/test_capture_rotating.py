"""Rotating evidence pcaps: size caps, and whole records only on a full disk and after a crash."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from monitor.capture.durable import AppendError
from monitor.capture.offline import OfflineSource
from monitor.capture.rotating import RotatingPcapWriter, whole_records_end
from monitor.capture.writer import PcapWriter
from tests.fulldisk import FullDisk
from tests.requirements import require_tool
from tests.unit.test_capture_writer import T0, make_batch, read_back

REC = 16 + 100  # one record of make_batch's 100-byte frames


def frames_in(paths: list[Path]) -> int:
    src = OfflineSource([str(p) for p in paths])
    count = sum(len(b) for b in src.batches())
    for summary in src.summaries:
        assert not summary.errors and not summary.truncated, summary
    return count


def test_rotating_writer_caps_file_and_total_size(tmp_path: Path) -> None:
    rec = 16 + 100
    per_file = 24 + 4 * rec  # four records fit in a file
    with RotatingPcapWriter(tmp_path, "ev", 1, per_file, 3 * per_file) as w:
        for start in range(0, 40, 5):
            w.write_batch(make_batch(5, t0=T0 + start), np.ones(5, dtype=bool))
    files = sorted(tmp_path.glob("ev-*.pcap"))
    assert w.files_rotated == 9 and w.files_deleted == 7
    assert len(files) == 3 and files == w.paths
    assert all(f.stat().st_size <= per_file for f in files)
    assert sum(f.stat().st_size for f in files) <= 3 * per_file
    src = OfflineSource([str(f) for f in files])
    assert sum(len(b) for b in src.batches()) == 40 - 4 * 7  # the newest 12 frames survive
    assert files[0].name.startswith("ev-000008-20231114T")


def test_rotating_writer_counts_files_of_an_earlier_run(tmp_path: Path) -> None:
    per_file = 24 + 2 * 116
    with RotatingPcapWriter(tmp_path, "cam", 1, per_file, 2 * per_file) as w:
        w.write_batch(make_batch(4))
    first = sorted(tmp_path.glob("cam-*.pcap"))
    (tmp_path / "cam-notes.txt").write_text("kept")
    with RotatingPcapWriter(tmp_path, "cam", 1, per_file, 2 * per_file) as w2:
        w2.write_frame(T0 + 100, b"y" * 100, 100)
    names = sorted(p.name for p in tmp_path.glob("cam-*.pcap"))
    assert w2.files_deleted == 1 and first[0].name not in names
    assert names[-1].startswith("cam-000003-")
    assert (tmp_path / "cam-notes.txt").exists()


def test_rotating_writer_rejects_impossible_caps(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        RotatingPcapWriter(tmp_path, "x", 1, 10_000, 5_000)


def test_records_are_those_of_the_replay_writer(tmp_path: Path) -> None:
    batch = make_batch(7)
    batch.caplen[3] = 40  # a frame cut short by the capture's snaplen keeps its wire length
    with RotatingPcapWriter(tmp_path / "ev", "ev", 1, 1 << 20, 1 << 20, snaplen=64) as w:
        assert w.write_batch(batch) == 7
        w.write_frame(T0 + 9, b"z" * 80, 1514)
    with PcapWriter(tmp_path / "ref.pcap", 1, snaplen=64) as ref:
        ref.write_batch(batch)
        ref.write_frame(T0 + 9, b"z" * 80, 1514)
    (ours,) = (tmp_path / "ev").glob("ev-*.pcap")
    assert ours.read_bytes() == (tmp_path / "ref.pcap").read_bytes()


def test_a_full_disk_leaves_whole_records_and_writing_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = FullDisk(monkeypatch, tmp_path, free=None)
    w = RotatingPcapWriter(tmp_path, "ev", 1, 1 << 20, 1 << 20)
    w.write_batch(make_batch(3))
    disk.free = 2 * REC + 50  # room for two records and part of a third
    with pytest.raises(AppendError) as failed:
        w.write_batch(make_batch(5, t0=T0 + 10))
    assert failed.value.kept == 2 and failed.value.errno == errno.ENOSPC
    assert w.packets == 5
    (path,) = w.paths
    assert path.stat().st_size == 24 + 5 * REC == whole_records_end(path), "cut back"
    with pytest.raises(AppendError) as nothing:
        w.write_batch(make_batch(2, t0=T0 + 20))
    assert nothing.value.kept == 0 and path.stat().st_size == 24 + 5 * REC
    disk.free = None  # space returns: the next batch goes in
    assert w.write_batch(make_batch(4, t0=T0 + 30)) == 4
    w.close()
    _, frames = read_back(path)
    assert len(frames) == 9 and frames[5][1] == pytest.approx(T0 + 30)


def test_no_room_for_a_new_file_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = FullDisk(monkeypatch, tmp_path, free=10)  # not even the 24-byte header
    w = RotatingPcapWriter(tmp_path, "ev", 1, 1 << 20, 1 << 20)
    with pytest.raises(AppendError):
        w.write_batch(make_batch(2))
    assert list(tmp_path.glob("ev-*")) == [] and w.paths == []
    disk.free = None
    assert w.write_batch(make_batch(2)) == 2
    assert [p.name[:10] for p in w.paths] == ["ev-000001-"]


def test_a_failure_at_rotation_keeps_the_full_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = FullDisk(monkeypatch, tmp_path, free=None)
    per_file = 24 + 2 * REC
    w = RotatingPcapWriter(tmp_path, "ev", 1, per_file, 10 * per_file)
    disk.free = per_file + 24 + REC + 7  # a full file, then one record of the next
    with pytest.raises(AppendError) as failed:
        w.write_batch(make_batch(6))
    assert failed.value.kept == 3 == w.packets
    assert [p.stat().st_size for p in w.paths] == [per_file, 24 + REC]
    assert frames_in(w.paths) == 3


def test_a_record_torn_by_a_crash_is_cut_off_at_start(tmp_path: Path) -> None:
    with RotatingPcapWriter(tmp_path, "ev", 1, 1 << 20, 1 << 20) as w:
        w.write_batch(make_batch(4))
    (path,) = w.paths
    whole = path.stat().st_size
    with open(path, "ab") as f:
        f.write(make_batch(1).data[:30])  # a record header and part of its frame
    older = tmp_path / "ev-000000-20231114T000000Z.pcap"
    older.write_bytes(path.read_bytes()[:100])  # only the newest file is checked
    with RotatingPcapWriter(tmp_path, "ev", 1, 1 << 20, 1 << 20) as again:
        again.write_batch(make_batch(1, t0=T0 + 5))
    assert path.stat().st_size == whole and frames_in([path]) == 4
    assert older.stat().st_size == 100


def test_zeros_after_a_power_loss_are_no_records(tmp_path: Path) -> None:
    with RotatingPcapWriter(tmp_path, "ev", 1, 1 << 20, 1 << 20) as w:
        w.write_batch(make_batch(2))
    (path,) = w.paths
    with open(path, "ab") as f:
        f.write(b"\0" * 4096)
    assert whole_records_end(path) == 24 + 2 * REC
    RotatingPcapWriter(tmp_path, "ev", 1, 1 << 20, 1 << 20).close()
    assert path.stat().st_size == 24 + 2 * REC


def test_a_file_without_a_whole_header_is_removed_and_foreign_files_kept(tmp_path: Path) -> None:
    stub = tmp_path / "ev-000004-20231114T000000Z.pcap"
    stub.write_bytes(b"\xd4\xc3\xb2\xa1\x02\x00")
    RotatingPcapWriter(tmp_path, "ev", 1, 1 << 20, 1 << 20).close()
    assert not stub.exists()
    foreign = tmp_path / "ev-000005-20231114T000000Z.pcap"
    foreign.write_bytes(b"\x0a\x0d\x0d\x0a" + b"x" * 40)  # pcapng: not ours to cut
    RotatingPcapWriter(tmp_path, "ev", 1, 1 << 20, 1 << 20).close()
    assert foreign.stat().st_size == 44


@pytest.mark.tools
def test_tshark_reads_a_file_cut_back_after_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tshark = require_tool("tshark")
    disk = FullDisk(monkeypatch, tmp_path, free=24 + 3 * REC + 99)
    w = RotatingPcapWriter(tmp_path, "ev", 1, 1 << 20, 1 << 20)
    with pytest.raises(AppendError):
        w.write_batch(make_batch(8))
    disk.free = None
    w.write_batch(make_batch(2, t0=T0 + 60))
    w.close()
    (path,) = w.paths
    run = subprocess.run(
        [tshark, "-r", str(path), "-T", "fields", "-e", "frame.len"],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert run.returncode == 0 and "cut short" not in run.stderr, run.stderr
    assert run.stdout.split() == ["1500", "1501", "1502", "1500", "1501"]
