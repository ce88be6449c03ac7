"""The live capture loop on an in-memory capture: findings, evidence, drops, reopen, idle ticks,
and its turns for signals, housekeeping and publication under a flood (an injected clock)."""

from __future__ import annotations

import dataclasses
import os
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.make_flood import flood
from monitor.capture.live import CaptureOptions, DropCounter, compose_filter, interface_state
from monitor.capture.offline import OfflineSource
from monitor.classify.catalog import load_catalog
from monitor.config import load_policy
from monitor.counters import Snapshot
from monitor.decode.frames import decode_batch
from monitor.flow.key import address_text
from monitor.live import loop as loop_module
from monitor.live.evidence import EvidenceOptions, EvidenceSink
from monitor.live.health import CaptureStatus
from monitor.live.loop import CaptureLoop
from monitor.live.reload import apply_policy
from monitor.model import CaptureError, Finding, FrameBatch
from monitor.pipeline import Pipeline, PipelineSettings
from tests.framebuild import batch_of

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
POLICY = load_policy(PCAPS / "site.yaml")


class FakeCapture:
    """LiveCapture's interface over a queue of batches; a pipe makes its descriptor readable."""

    def __init__(self, batches: list[FrameBatch]) -> None:
        self.options = CaptureOptions("fake0")
        self.batches = deque(batches)
        self.is_open = False
        self.opens = 0
        self.fail_next = False
        self.counters = (0, 0, 0)
        self.asked: list[int] = []  # max_n of every read
        self._r, self._w = os.pipe()
        os.write(self._w, b"x")  # always readable: read() says when there is nothing

    def open(self) -> None:
        self.is_open, self.opens = True, self.opens + 1

    def fileno(self) -> int:
        return self._r

    def read(self, max_n: int = 4096) -> FrameBatch | None:
        self.asked.append(max_n)
        if self.fail_next:
            self.fail_next = False
            raise CaptureError("The interface went down")
        return self.batches.popleft() if self.batches else None

    def stats(self) -> tuple[int, int, int] | None:
        return self.counters if self.is_open else None

    def close(self) -> None:
        self.is_open = False


class Hooks:
    def __init__(self, clock: Any = None) -> None:
        self.published: list[tuple[Snapshot, CaptureStatus, bool]] = []
        self.clock = clock
        self.polled_at: list[float] = []
        self.published_at: list[float] = []

    def poll(self, loop: CaptureLoop) -> None:
        if self.clock is not None:
            self.polled_at.append(self.clock())

    def publish(self, snapshot: Snapshot, status: CaptureStatus, final: bool) -> None:
        self.published.append((snapshot, status, final))
        if self.clock is not None:
            self.published_at.append(self.clock())


class Monotonic:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def shifted(name: str, to: float) -> list[FrameBatch]:
    batches = list(OfflineSource([str(PCAPS / name)]).batches())
    first = float(batches[0].ts.min())
    zero = [dataclasses.replace(b, ts=b.ts - first + to, wirelen=b.wirelen * 0) for b in batches]
    return zero


def make_loop(
    batches: list[FrameBatch], **kw: Any
) -> tuple[CaptureLoop, FakeCapture, Hooks, list[Finding]]:
    found: list[Finding] = []
    pipe = Pipeline(
        POLICY, load_catalog(), PipelineSettings(keep_records=False), "fake0", found.append
    )
    cap, hooks = FakeCapture(batches), Hooks(kw.get("monotonic"))
    state = kw.pop("state", {"fake0": "up"})
    loop = CaptureLoop(pipe, cap, hooks, link_state=lambda i: state.get(i, "missing"), **kw)  # type: ignore[arg-type]
    return loop, cap, hooks, found


def test_findings_evidence_and_final_flush(tmp_path: Path) -> None:
    clock = [2_000_000_000.0]
    evidence = EvidenceSink(EvidenceOptions(str(tmp_path), 1 << 20, 1 << 20), 1600)
    loop, cap, hooks, found = make_loop(
        shifted("egress.pcap", clock[0]), evidence=evidence, clock=lambda: clock[0]
    )
    loop.start()
    while cap.batches:
        loop.step()
    loop.finish()
    assert sorted(f.peer for f in found) == ["192.0.2.33", "198.51.100.7", "203.0.113.9"]
    snap, status, final = hooks.published[-1]
    assert final and not status.open
    assert snap.counters.capture_packets["fake0"] == 99
    written = list(
        OfflineSource([str(p) for p in sorted(tmp_path.glob("evidence-*.pcap"))]).batches()
    )
    assert sum(len(b) for b in written) == evidence.packets > 0
    peers = {f.peer for f in found}
    for b in written:  # only frames of flagged flows
        d = decode_batch(b)
        for i in range(len(b)):
            ends = {
                address_text(b.frame(i), int(d.l3[i]) - int(b.offset[i]), 4, s)
                for s in (True, False)
            }
            assert ends & peers, ends


def test_drops_reopen_and_capture_up() -> None:
    state = {"fake0": "up"}
    loop, cap, _, _ = make_loop([], state=state)
    loop.start()
    cap.counters = (100, 3, 1)
    loop.housekeeping()
    cap.fail_next = True
    cap.batches.append(shifted("clean.pcap", 1.0)[0])
    loop.step()  # the read fails: handle closed, status down
    assert not cap.is_open and not loop.status().open
    dropped = loop.pipeline.counters.capture_dropped
    assert dropped[("fake0", "kernel")] == 3 and dropped[("fake0", "interface")] == 1
    state["fake0"] = "down"
    loop._next_reopen = 0.0
    loop.housekeeping()
    assert cap.opens == 1, "no reopen while the link is down"
    state["fake0"] = "up"
    loop._next_reopen = 0.0
    loop.housekeeping()
    assert cap.opens == 2 and loop.status().open
    cap.counters = (5, 2, 0)  # libpcap counts again from zero on the new handle
    loop.housekeeping()
    assert dropped[("fake0", "kernel")] == 5 and dropped[("fake0", "interface")] == 1


def test_missing_interface_fails_fast_down_one_waits() -> None:
    loop, cap, _, _ = make_loop([], state={})
    with pytest.raises(CaptureError, match="no such interface"):
        loop.start()
    loop, cap, _, _ = make_loop([], state={"fake0": "down"})
    loop.start()
    assert not cap.is_open and not loop.status().up(0.0)


def test_idle_ticks_settle_flows_but_not_the_last_packet_time() -> None:
    clock = [3_000_000_000.0]
    batches = shifted("egress.pcap", clock[0])
    loop, _, _, found = make_loop(batches[:1], clock=lambda: clock[0])
    loop.start()
    loop.step()
    newest = float(batches[0].ts.max())
    clock[0] = newest + 600  # ten minutes of silence on the link
    loop.housekeeping()
    snap = loop.snapshot()
    assert snap.counters.last_packet_ts == newest
    assert loop.pipeline.now == clock[0]
    assert not loop.pipeline._unsettled and found  # the lone SYN settled and was reported


def test_policy_swap_keeps_seen_hosts() -> None:
    loop, _, _, _ = make_loop([])
    pipe = loop.pipeline
    pipe.devices.learn_mac("10.20.9.9", "44:19:b6:00:00:01")
    renamed = dataclasses.replace(POLICY, site="renamed")
    apply_policy(pipe, renamed)
    assert pipe.policy is renamed and pipe.classifier.policy is renamed
    assert (
        pipe.devices.policy is renamed and pipe.devices.devices["10.20.9.9"].vendor == "hikvision"
    )


def test_capture_helpers(tmp_path: Path) -> None:
    assert compose_filter(None, "  ") is None
    assert compose_filter("tcp") == "tcp"
    assert (
        compose_filter("udp port 53", "not host 10.0.0.1")
        == "(udp port 53) and (not host 10.0.0.1)"
    )
    (tmp_path / "eth9").mkdir()
    (tmp_path / "eth9" / "flags").write_text("0x1003\n")
    (tmp_path / "eth8").mkdir()
    (tmp_path / "eth8" / "flags").write_text("0x1002\n")
    assert interface_state("eth9", tmp_path) == "up"
    assert interface_state("eth8", tmp_path) == "down"
    assert interface_state("eth7", tmp_path) == "missing"
    drops = DropCounter()
    assert drops.update((10, 2, 1)) == (10, 2, 1)
    assert drops.update((15, 2, 4)) == (5, 0, 3)
    assert drops.update((3, 1, 0)) == (3, 1, 0)  # counters reset under us: count from zero
    assert np.all(shifted("egress.pcap", 0.0)[0].wirelen == 0)


def flood_batches(n: int, start: float, seconds: float, size: int = 4096) -> list[FrameBatch]:
    """``n`` SYNs from 65,536 spoofed sources (bench/make_flood.py), each a new flow."""
    frames = flood(n, 0x0A140000 + np.arange(65536, dtype=np.uint64), np.random.default_rng(7))
    ts = start + np.arange(n) * (seconds / n)
    return [
        batch_of([r.tobytes() for r in frames[i : i + size]], list(ts[i : i + size]))
        for i in range(0, n, size)
    ]


def test_a_backlog_yields_to_signals_and_housekeeping_by_the_clock() -> None:
    """Every batch takes 0.15 s: reading stops after WAKE_SECONDS, however many batches
    wait, so polls (signals) and publications keep coming; batches shrink meanwhile."""
    mono = Monotonic()
    batches = shifted("egress.pcap", 2_000_000_000.0) * 20
    loop, cap, hooks, _ = make_loop(batches, monotonic=mono)
    process = loop.pipeline.process

    def slow(batch: FrameBatch) -> None:
        process(batch)
        mono.now += 0.15

    loop.pipeline.process = slow  # type: ignore[method-assign]
    loop.start()
    while cap.batches:
        loop.step()
    budget = loop_module.WAKE_SECONDS + 0.15
    gaps = np.diff(hooks.polled_at)
    assert len(hooks.polled_at) >= 20 * 0.15 / budget and gaps.max() <= budget
    published = np.diff(hooks.published_at)
    assert published.max() <= loop_module.HOUSEKEEPING_SECONDS + budget
    assert min(cap.asked) < 4096 and min(cap.asked) >= loop_module.MIN_BATCH


def test_batches_grow_back_once_they_are_quick() -> None:
    loop, _, _, _ = make_loop([])
    loop._size_batches(4096, 0.4)
    assert loop.batch_frames == 1024
    loop._size_batches(1024, 1.0)
    assert loop.batch_frames == loop_module.MIN_BATCH
    for _ in range(6):
        loop._size_batches(loop.batch_frames, 0.01)
    assert loop.batch_frames == 4096


def test_keep_alive_publishes_through_a_long_settle_burst() -> None:
    """A flood's flows settle all at once in one idle tick; the finding callback keeps the
    published snapshot at most PUBLISH_SECONDS old meanwhile."""
    mono = Monotonic()
    clock = [1_900_000_000.0]
    batches = flood_batches(6000, clock[0], 0.3)
    loop, cap, hooks, found = make_loop(batches, monotonic=mono, clock=lambda: clock[0])

    def on_finding(f: Finding) -> None:
        found.append(f)
        mono.now += 0.001  # a millisecond of work per flow settled
        loop.keep_alive()

    loop.pipeline.on_finding = on_finding
    loop.start()
    while cap.batches:
        loop.step()
    assert not found, "the flood's SYNs wait for their verdict"
    clock[0] += 5  # the link goes quiet: the idle tick settles every flow
    mono.now += 1
    before = len(hooks.published_at)
    loop.housekeeping()
    assert len(found) == 6000
    during = hooks.published_at[before:]
    assert len(during) >= 6000 * 0.001 / loop_module.PUBLISH_SECONDS
    assert np.diff(during).max() <= loop_module.PUBLISH_SECONDS + 0.002
    assert hooks.published[-1][0].counters.findings  # the last one counts them


def test_no_housekeeping_once_stopping() -> None:
    """A stop goes straight to finish(): an idle tick first would settle a flood's flows
    only to delay the stop by that long."""
    loop, _, hooks, _ = make_loop([])
    loop.start()
    loop.stop()
    loop.step()
    assert hooks.published == []
    loop.finish()
    assert [final for _, _, final in hooks.published] == [True]
