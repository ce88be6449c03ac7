"""Capture writers: round trips through the readers, the pcapng switch."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from monitor.capture.offline import OfflineSource
from monitor.capture.writer import (
    PcapngWriter,
    PcapWriter,
    open_capture_writer,
)
from monitor.model import FrameBatch

T0 = 1_700_000_000.0


def make_batch(n: int, linktype: int = 1, t0: float = T0, size: int = 100) -> FrameBatch:
    """``n`` frames of ``size`` bytes with distinct content, ts and wire lengths."""
    data = b"".join(bytes([i % 256]) * size for i in range(n))
    return FrameBatch(
        data=b"pad" + data,
        ts=t0 + np.arange(n, dtype=np.float64) * 0.001234,
        offset=3 + np.arange(n, dtype=np.int64) * size,
        caplen=np.full(n, size, dtype=np.int64),
        wirelen=np.arange(n, dtype=np.int64) + 1500,
        linktype=linktype,
    )


def read_back(path: Path) -> tuple[OfflineSource, list[tuple[int, float, bytes, int]]]:
    src = OfflineSource([str(path)])
    out = [
        (b.linktype, float(b.ts[i]), b.frame(i), int(b.wirelen[i]))
        for b in src.batches()
        for i in range(len(b))
    ]
    return src, out


def test_pcap_round_trip_with_mask(tmp_path: Path) -> None:
    batch = make_batch(20)
    mask = np.arange(20) % 3 == 0
    path = tmp_path / "out.pcap"
    with PcapWriter(path, 1) as w:
        assert w.write_batch(batch, mask) == 7
        w.write_frame(T0 + 10.5, b"\x01" * 42, wirelen=0)
    assert path.read_bytes()[:24] == struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    src, got = read_back(path)
    want = [
        (1, float(batch.ts[i]), batch.frame(i), int(batch.wirelen[i])) for i in np.flatnonzero(mask)
    ]
    want.append((1, T0 + 10.5, b"\x01" * 42, 42))
    assert [(g[0], g[2], g[3]) for g in got] == [(w[0], w[2], w[3]) for w in want]
    assert np.allclose([g[1] for g in got], [w[1] for w in want], rtol=0, atol=1e-6)
    assert src.summaries[0].format == "pcap" and w.packets == 8
    assert w.bytes_written == path.stat().st_size


def test_snaplen_cuts_frames_and_keeps_wire_length(tmp_path: Path) -> None:
    path = tmp_path / "snap.pcap"
    with PcapWriter(path, 1, snaplen=64) as w:
        w.write_batch(make_batch(3, size=100))
    _, got = read_back(path)
    assert [(len(g[2]), g[3]) for g in got] == [(64, 1500), (64, 1501), (64, 1502)]


def test_other_link_type_is_refused(tmp_path: Path) -> None:
    with PcapWriter(tmp_path / "a.pcap", 1) as w, pytest.raises(ValueError, match="link type 101"):
        w.write_batch(make_batch(2, linktype=101))


def test_write_after_close_is_refused(tmp_path: Path) -> None:
    w = PcapWriter(tmp_path / "a.pcap", 1)
    w.close()
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write_frame(T0, b"x" * 60)


def test_one_link_type_gives_classic_pcap(tmp_path: Path) -> None:
    w = open_capture_writer(tmp_path / "a.pcap", {1})
    w.close()
    assert type(w) is PcapWriter
    assert (tmp_path / "a.pcap").read_bytes()[:4] == b"\xd4\xc3\xb2\xa1"


def test_several_link_types_give_pcapng(tmp_path: Path) -> None:
    path = tmp_path / "mixed.pcapng"
    eth, raw = make_batch(5, 1), make_batch(4, 101, t0=T0 + 0.0005, size=33)
    with open_capture_writer(path, {1, 101}) as w:
        assert isinstance(w, PcapngWriter)
        w.write_batch(eth)
        w.write_batch(raw, np.array([True, False, True, True]))
        w.write_frame(T0 + 1, b"\x45" * 20, 20, linktype=101)
    src, got = read_back(path)
    assert src.summaries[0].format == "pcapng"
    want = [(1, float(eth.ts[i]), eth.frame(i), int(eth.wirelen[i])) for i in range(5)]
    want += [(101, float(raw.ts[i]), raw.frame(i), int(raw.wirelen[i])) for i in (0, 2, 3)]
    want.append((101, T0 + 1, b"\x45" * 20, 20))
    assert [(g[0], g[2], g[3]) for g in got] == [(x[0], x[2], x[3]) for x in want]
    assert np.allclose([g[1] for g in got], [x[1] for x in want], rtol=0, atol=1e-6)


def test_pcapng_adds_an_interface_for_an_unannounced_link_type(tmp_path: Path) -> None:
    path = tmp_path / "late.pcapng"
    with PcapngWriter(path, [1]) as w:
        w.write_batch(make_batch(2, 1))
        w.write_batch(make_batch(2, 113))
    assert w.interfaces == {1: 0, 113: 1}
    _, got = read_back(path)
    assert [g[0] for g in got] == [1, 1, 113, 113]
