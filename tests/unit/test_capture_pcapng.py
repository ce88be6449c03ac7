"""The pcapng reader, on captures built block by block in the test."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from monitor.capture import window
from monitor.capture.offline import OfflineSource
from monitor.capture.pcapng import Interface, PcapngStreamReader, parse_idb
from monitor.model import FrameBatch, InputSummary

T0 = 1_700_000_000


def block(btype: int, body: bytes, order: str = "<") -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", n)


def shb(order: str = "<") -> bytes:
    return block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order)


def option(code: int, value: bytes, order: str = "<") -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def idb(
    linktype: int,
    snaplen: int = 262144,
    tsresol: int | None = None,
    tsoffset: int | None = None,
    order: str = "<",
) -> bytes:
    opts = b""
    if tsresol is not None:
        opts += option(9, bytes([tsresol]), order)
    if tsoffset is not None:
        opts += option(14, struct.pack(order + "q", tsoffset), order)
    if opts:
        opts += option(0, b"", order)
    return block(1, struct.pack(order + "HHI", linktype, 0, snaplen) + opts, order)


def epb(iface: int, ticks: int, data: bytes, wirelen: int | None = None, order: str = "<") -> bytes:
    wire = len(data) if wirelen is None else wirelen
    head = struct.pack(order + "5I", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), wire)
    return block(6, head + data + b"\0" * (-len(data) % 4) + option(0, b"", order), order)


def spb(data: bytes, wirelen: int | None = None, order: str = "<") -> bytes:
    return block(
        3, struct.pack(order + "I", len(data) if wirelen is None else wirelen) + data, order
    )


def old_pb(iface: int, ticks: int, data: bytes, order: str = "<") -> bytes:
    head = struct.pack(
        order + "HH4I", iface, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)
    )
    return block(2, head + data, order)


def read(
    tmp_path: Path, blob: bytes, batch_size: int = 4096
) -> tuple[OfflineSource, list[FrameBatch]]:
    path = tmp_path / "t.bin"
    path.write_bytes(blob)
    src = OfflineSource([str(path)], batch_size=batch_size)
    return src, list(src.batches())


def frames_of(batches: list[FrameBatch]) -> list[tuple[int, float, bytes, int]]:
    return [
        (b.linktype, float(b.ts[i]), b.frame(i), int(b.wirelen[i]))
        for b in batches
        for i in range(len(b))
    ]


def test_two_interfaces_with_different_link_types_and_resolutions(tmp_path: Path) -> None:
    blob = shb() + idb(1, tsresol=6) + idb(101, tsresol=9)
    want = []
    for i in range(30):
        iface = 0 if i % 3 else 1
        data = bytes([i]) * (20 + i)
        t = T0 + i * 0.25
        ticks = round(t * 1e6) if iface == 0 else round(t * 1e9)
        blob += epb(iface, ticks, data, wirelen=100 + i)
        want.append((1 if iface == 0 else 101, t, data, 100 + i))
    src, batches = read(tmp_path, blob)
    got = frames_of(batches)
    assert [g[0] for g in got] == [w[0] for w in want]
    assert [g[2:] for g in got] == [w[2:] for w in want]
    assert np.allclose([g[1] for g in got], [w[1] for w in want], rtol=0, atol=1e-6)
    for b in batches:
        assert len(b) > 0  # one link type per batch, by construction of FrameBatch
    assert len(batches) > 2  # split where the link type changes
    s = src.summaries[0]
    assert (s.format, s.packets, s.errors) == ("pcapng", 30, [])


def test_nanosecond_timestamps_keep_sub_microsecond_digits(tmp_path: Path) -> None:
    ticks = 1_722_540_110_397_706_326
    _, batches = read(tmp_path, shb() + idb(1, tsresol=9) + epb(0, ticks, b"x" * 60))
    assert float(batches[0].ts[0]) == pytest.approx(1722540110.397706326, abs=5e-7)


def test_power_of_two_resolution_and_offset(tmp_path: Path) -> None:
    ticks = (5 << 20) + (1 << 19)  # 5.5 s at 2^-20 s per tick
    blob = shb() + idb(1, tsresol=0x80 | 20, tsoffset=T0) + epb(0, ticks, b"a" * 60)
    _, batches = read(tmp_path, blob)
    assert float(batches[0].ts[0]) == pytest.approx(T0 + 5.5, abs=1e-9)


def test_parse_idb_ignores_impossible_resolution() -> None:
    body = struct.pack("<HHI", 1, 0, 100) + option(9, bytes([0x80 | 100])) + option(0, b"")
    assert parse_idb(body, "<") == Interface(1, 100, 1_000_000, 0)


@pytest.mark.parametrize("claimed", [1, 8, 200, 65535])
def test_an_option_longer_than_its_block_is_reported_and_the_packets_still_read(
    tmp_path: Path, claimed: int
) -> None:
    """Found by the fuzzer: if_tsresol claiming bytes the block does not hold raised
    IndexError (a traceback, exit 1). Now the option is ignored, its offset reported."""
    body = struct.pack("<HHI", 1, 0, 65535) + struct.pack("<HH", 14, 4) + b"\0" * 4
    body += struct.pack("<HH", 9, claimed)  # nothing follows it in the block
    blob = shb() + block(1, body) + epb(0, 1_700_000_000_000_000, b"x" * 60)
    src, batches = read(tmp_path, blob)
    summary = src.summaries[0]
    assert [f[1] for f in frames_of(batches)] == [1_700_000_000.0]  # microseconds: default
    (error,) = summary.errors
    assert "code 9" in error and f"{claimed} bytes" in error
    assert "byte offset 52" in error  # 28 (SHB) + 8 (block head) + 8 (fields) + 8 (option)
    assert not summary.truncated


def test_big_endian_and_several_sections(tmp_path: Path) -> None:
    blob = shb(">") + idb(1, order=">") + epb(0, T0 * 10**6, b"B" * 64, order=">")
    blob += shb("<") + idb(113) + epb(0, (T0 + 1) * 10**6, b"L" * 64)
    src, batches = read(tmp_path, blob)
    got = frames_of(batches)
    assert [(g[0], g[2][:1]) for g in got] == [(1, b"B"), (113, b"L")]
    assert src.summaries[0].packets == 2


def test_simple_packet_blocks_take_the_last_timestamp(tmp_path: Path) -> None:
    blob = shb() + idb(1, snaplen=50) + spb(b"s" * 40) + epb(0, T0 * 10**6, b"e" * 60)
    blob += spb(b"t" * 80, wirelen=80) + spb(b"u" * 30)
    _, batches = read(tmp_path, blob)
    got = frames_of(batches)
    assert [(g[1], len(g[2]), g[3]) for g in got] == [
        (0.0, 40, 40),
        (float(T0), 60, 60),
        (float(T0), 50, 80),  # cut to the interface snaplen
        (float(T0), 30, 30),
    ]


def test_obsolete_packet_block_and_unknown_blocks(tmp_path: Path) -> None:
    blob = shb() + idb(1) + block(0xBAD, b"custom stuff") + old_pb(0, T0 * 10**6, b"p" * 61)
    blob += block(4, b"\0" * 8) + block(5, b"\0" * 20) + epb(0, (T0 + 2) * 10**6, b"e" * 62)
    src, batches = read(tmp_path, blob)
    assert [len(g[2]) for g in frames_of(batches)] == [61, 62]
    assert src.summaries[0].errors == []


def test_unknown_interface_is_skipped_with_an_error(tmp_path: Path) -> None:
    blob = shb() + idb(1) + epb(0, T0 * 10**6, b"a" * 60) + epb(7, T0 * 10**6, b"b" * 60)
    blob += epb(0, T0 * 10**6, b"c" * 60)
    src, batches = read(tmp_path, blob)
    assert [g[2][:1] for g in frames_of(batches)] == [b"a", b"c"]
    s = src.summaries[0]
    offset = len(shb() + idb(1) + epb(0, 0, b"a" * 60))
    assert s.errors[0] == (
        f"t.bin: packet block at byte offset {offset} names interface 7 but the section has 1"
    )
    assert s.errors[1] == "t.bin: 1 unreadable packet blocks skipped"
    assert not s.truncated


def test_packet_data_longer_than_its_block_is_skipped(tmp_path: Path) -> None:
    bad = bytearray(epb(0, T0 * 10**6, b"z" * 60))
    struct.pack_into("<I", bad, 20, 5000)  # caplen field
    src, batches = read(tmp_path, shb() + idb(1) + bytes(bad) + epb(0, T0 * 10**6, b"ok" * 30))
    assert [g[2] for g in frames_of(batches)] == [b"ok" * 30]
    assert "claims" in src.summaries[0].errors[0]


def test_cut_short_in_a_block(tmp_path: Path) -> None:
    good = shb() + idb(1) + b"".join(epb(0, (T0 + i) * 10**6, b"q" * 100) for i in range(5))
    last = epb(0, T0 * 10**6, b"r" * 100)
    src, _ = read(tmp_path, good + last[:-30])
    s = src.summaries[0]
    assert s.packets == 5 and s.truncated
    assert s.errors == [
        f"t.bin: cut short in the middle of a block at byte offset {len(good)} "
        f"({len(last) - 30} of {len(last)} bytes present)"
    ]


def test_absurd_block_length_stops(tmp_path: Path) -> None:
    good = shb() + idb(1) + epb(0, T0 * 10**6, b"q" * 100)
    src, _ = read(tmp_path, good + struct.pack("<II", 6, 0x7FFFFFF0) + bytes(64))
    s = src.summaries[0]
    assert s.packets == 1 and s.truncated
    assert s.errors == [
        f"t.bin: a block (type 0x6) claiming {0x7FFFFFF0} bytes at byte offset {len(good)}: "
        "stopped reading"
    ]


@pytest.mark.parametrize("batch_size", [1, 2, 4096])
@pytest.mark.parametrize("first", ["epb", "spb"])
def test_misaligned_block_stops_whatever_came_before(
    tmp_path: Path, first: str, batch_size: int
) -> None:
    before = epb(0, T0 * 10**6, b"a" * 16) if first == "epb" else spb(b"a" * 16)
    good = shb() + idb(1) + before
    odd = bytearray(epb(0, T0 * 10**6, b"b" * 16) + b"\0")  # length 1 more than its blocks
    struct.pack_into("<I", odd, 4, len(odd))
    struct.pack_into("<I", odd, len(odd) - 4, len(odd))
    src, batches = read(tmp_path, good + bytes(odd) + epb(0, T0 * 10**6, b"c" * 16), batch_size)
    s = src.summaries[0]
    assert [g[2][:1] for g in frames_of(batches)] == [b"a"]
    assert s.errors == [
        f"t.bin: a block (type 0x6) claiming {len(odd)} bytes at byte offset {len(good)}: "
        "stopped reading"
    ]


def test_section_with_bad_byte_order_mark_stops(tmp_path: Path) -> None:
    good = shb() + idb(1) + epb(0, T0 * 10**6, b"q" * 100)
    broken = bytearray(shb())
    broken[8:12] = b"XXXX"
    src, _ = read(tmp_path, good + bytes(broken))
    assert src.summaries[0].packets == 1
    assert "no valid byte-order mark" in src.summaries[0].errors[0]


def test_gzip_of_pcapng(tmp_path: Path) -> None:
    blob = (
        shb()
        + idb(1)
        + idb(101)
        + b"".join(epb(i % 2, (T0 + i) * 10**6, bytes([i]) * 50) for i in range(40))
    )
    plain = frames_of(read(tmp_path, blob)[1])
    src, batches = read(tmp_path, gzip.compress(blob))
    assert src.summaries[0].format == "pcapng.gz"
    assert frames_of(batches) == plain and len(plain) == 40


def test_batches_are_cut_at_batch_size(tmp_path: Path) -> None:
    blob = shb() + idb(1) + b"".join(epb(0, (T0 + i) * 10**6, b"w" * 70) for i in range(100))
    _, batches = read(tmp_path, blob, batch_size=7)
    assert [len(b) for b in batches] == [7] * 14 + [2]
    assert np.all(np.diff(np.concatenate([b.ts for b in batches])) > 0)


def test_header_only_pcapng_is_readable(tmp_path: Path) -> None:
    src, batches = read(tmp_path, shb() + idb(1))
    assert batches == [] and src.any_readable and src.summaries[0].errors == []


def test_raw_files_reuse_read_buffers_only_when_no_batch_points_into_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(window, "CHUNK_BYTES", 4096)
    data = [bytes([i % 251]) * (40 + i % 50) for i in range(2000)]
    blob = shb() + idb(1) + b"".join(epb(0, (T0 + i) * 10**6, d) for i, d in enumerate(data))
    blob += shb(">") + idb(101, order=">") + spb(b"s" * 70, order=">")  # BOM read from the window
    path = tmp_path / "r.pcapng"
    path.write_bytes(blob)
    with open(path, "rb") as fobj:
        sink = InputSummary(path=str(path))
        head = fobj.read(24)
        reader = PcapngStreamReader(
            fobj, name="r.pcapng", source=0, batch_size=64, sink=sink, initial=head
        )
        streamed = [b.frame(i) for b in reader.batches() for i in range(len(b))]
        assert isinstance(reader.window, window.ReusingChunkedReader)
        assert reader.window.new_buffers == 2  # one per side of the double buffer, then reuse
    assert streamed == [*data, b"s" * 70] and sink.errors == []
    _, held = read(tmp_path, blob, batch_size=64)  # every batch kept: no buffer may be reused
    assert [g[2] for g in frames_of(held)] == streamed
