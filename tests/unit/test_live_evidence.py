"""Live evidence pcaps on a full disk: counted, whole records only, resumed when space returns."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from monitor.live.evidence import EvidenceOptions, EvidenceSink
from tests.fulldisk import FullDisk
from tests.unit.test_capture_rotating import REC, frames_in
from tests.unit.test_capture_writer import T0, make_batch


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_evidence_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    sink = EvidenceSink(EvidenceOptions(str(tmp_path), 1 << 20, 1 << 20), 1600, clock)
    every = np.ones(6, dtype=bool)
    sink.write(make_batch(6), every)
    disk = FullDisk(monkeypatch, tmp_path, free=2 * REC + 30)
    with caplog.at_level(logging.INFO, "monitor"):
        sink.write(make_batch(6, t0=T0 + 1), every)  # two get in whole, four do not
        for second in range(1, 121):
            clock.now = second
            sink.write(make_batch(6, t0=T0 + 1 + second), every)  # nothing gets in
        assert (sink.packets, sink.lost_packets, sink.write_errors) == (8, 724, 121)
        failing = [r.getMessage() for r in caplog.records if "failing" in r.getMessage()]
        assert len(failing) == 2, "at most once a minute while it lasts"
        disk.free = None
        clock.now = 130
        sink.write(make_batch(6, t0=T0 + 200), every)
        assert "writing again after 130 s; 724 packets could not be written" in caplog.text
        sink.close()
        assert "evidence: 14 packets written, 724 lost to write errors (121 failed writes)" in (
            caplog.text
        )
    paths = sorted(tmp_path.glob("evidence-*.pcap"))
    assert frames_in(paths) == 14


def test_only_the_chosen_frames_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = EvidenceSink(EvidenceOptions(str(tmp_path), 1 << 20, 1 << 20), 1600)
    FullDisk(monkeypatch, tmp_path, free=0)
    mask = np.array([True, False, True, False, False])
    sink.write(make_batch(5), mask)
    assert (sink.packets, sink.lost_packets, sink.write_errors) == (0, 2, 1)
    assert list(tmp_path.glob("evidence-*")) == []
