"""OfflineSource and the classic pcap readers, on captures built byte by byte in the test."""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

import monitor.capture.pcapfile as pcapfile
import monitor.capture.window as read_window
from monitor.capture.offline import OfflineSource
from monitor.model import FrameBatch
from tests.requirements import unmet

MAGIC = {False: 0xA1B2C3D4, True: 0xA1B23C4D}
T0 = 1_700_000_000

# (seconds, fraction in file units, frame bytes, wire length)
Record = tuple[int, int, bytes, int]


def pcap_header(
    order: str = "<",
    nano: bool = False,
    snaplen: int = 65535,
    linktype: int = 1,
    version: tuple[int, int] = (2, 4),
) -> bytes:
    """A classic pcap file header."""
    return struct.pack(order + "IHHiIII", MAGIC[nano], *version, 0, 0, snaplen, linktype)


def pcap_record(rec: Record, order: str = "<", swapped_lengths: bool = False) -> bytes:
    """One record: header then frame bytes."""
    sec, frac, data, wirelen = rec
    lengths = (wirelen, len(data)) if swapped_lengths else (len(data), wirelen)
    return struct.pack(order + "IIII", sec, frac, *lengths) + data


def frames(n: int, start: int = 0, step_us: int = 1000) -> list[Record]:
    """``n`` distinct frames of varied sizes, one every ``step_us`` microseconds."""
    out = []
    for i in range(start, start + n):
        size = 60 + (i * 37) % 1300
        data = (i.to_bytes(4, "big") * (size // 4 + 1))[:size]
        us = i * step_us
        out.append((T0 + us // 1_000_000, us % 1_000_000, data, size))
    return out


def pcap_file(records: Sequence[Record], order: str = "<", nano: bool = False, **kw: int) -> bytes:
    """A whole classic pcap file."""
    body = b"".join(pcap_record(r, order) for r in records)
    return pcap_header(order, nano, **kw) + body  # type: ignore[arg-type]


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def read_all(
    paths: Sequence[str], batch_size: int = 4096
) -> tuple[OfflineSource, list[FrameBatch]]:
    src = OfflineSource(paths, batch_size=batch_size)
    return src, list(src.batches())


def flat(batches: Sequence[FrameBatch]) -> Iterator[tuple[float, bytes, int]]:
    for b in batches:
        for i in range(len(b)):
            yield float(b.ts[i]), b.frame(i), int(b.wirelen[i])


@pytest.fixture(params=["c", "python"])
def reader_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through the C record scan and through its pure-Python twin."""
    if request.param == "python":
        monkeypatch.setattr(pcapfile, "_records", None)
    elif pcapfile._records is None:
        unmet("the C speedup is not built (pip install -e .)")
    return str(request.param)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_reads_both_byte_orders_and_resolutions(
    tmp_path: Path, reader_path: str, order: str, nano: bool
) -> None:
    recs = frames(50)
    if nano:
        recs = [(s, f * 1000 + 7, d, w) for s, f, d, w in recs]
    path = write(tmp_path, "x.cap", pcap_file(recs, order, nano))
    src, batches = read_all([path])
    got = list(flat(batches))
    assert [g[1] for g in got] == [r[2] for r in recs]
    assert [g[2] for g in got] == [r[3] for r in recs]
    want_ts = [s + f * (1e-9 if nano else 1e-6) for s, f, _, _ in recs]
    assert np.allclose([g[0] for g in got], want_ts, rtol=0, atol=1e-6)
    s = src.summaries[0]
    assert (s.packets, s.format, s.errors, s.truncated) == (
        50,
        "pcap-ns" if nano else "pcap",
        [],
        False,
    )
    assert s.bytes == sum(r[3] for r in recs)
    assert s.first_ts == pytest.approx(want_ts[0], abs=1e-6)
    assert s.last_ts == pytest.approx(want_ts[-1], abs=1e-6)
    assert src.any_readable
    assert all(b.linktype == 1 and b.source == 0 for b in batches)


def test_wire_length_is_read_for_every_record(tmp_path: Path, reader_path: str) -> None:
    """Header-only frames far below the snaplen still carry their true wire length."""
    recs = [(T0 + i, 0, bytes(54), 1467) for i in range(20)]
    path = write(tmp_path, "cut.pcap", pcap_file(recs, snaplen=65535))
    src, batches = read_all([path])
    assert [w for _, _, w in flat(batches)] == [1467] * 20
    assert src.summaries[0].bytes == 20 * 1467


def test_batches_respect_batch_size(tmp_path: Path, reader_path: str) -> None:
    path = write(tmp_path, "a.pcap", pcap_file(frames(1000)))
    _, batches = read_all([path], batch_size=64)
    assert sum(len(b) for b in batches) == 1000
    assert max(len(b) for b in batches) <= 64


@pytest.mark.parametrize("n", [10, 9000])
def test_cut_short_inside_record_data(tmp_path: Path, reader_path: str, n: int) -> None:
    blob = pcap_file(frames(n))
    path = write(tmp_path, "short.pcap", blob[:-5])
    src, batches = read_all([path])
    s = src.summaries[0]
    assert s.packets == n - 1 and s.truncated
    assert [f for _, f, _ in flat(batches)] == [r[2] for r in frames(n - 1)]
    last = len(pcap_file(frames(n - 1)))
    assert s.errors == [
        f"short.pcap: cut short in the middle of a packet record at byte offset {last} "
        f"({len(blob) - 5 - last} of {len(blob) - last} bytes present)"
    ]
    assert src.any_readable


def test_cut_short_inside_record_header(tmp_path: Path, reader_path: str) -> None:
    blob = pcap_file(frames(3)) + b"\x01\x02\x03"
    src, _ = read_all([write(tmp_path, "h.pcap", blob)])
    s = src.summaries[0]
    assert s.packets == 3 and s.truncated
    assert "cut short in the middle of a packet record at byte offset" in s.errors[0]
    assert "(3 of 16 bytes present)" in s.errors[0]


def test_bad_record_length_stops_and_delivers_everything_before(
    tmp_path: Path, reader_path: str
) -> None:
    good = frames(9000)
    bad = struct.pack("<IIII", T0 + 99, 0, 3925868813, 60) + bytes(100)
    blob = pcap_file(good) + bad + b"".join(pcap_record(r) for r in frames(5, 9000))
    path = write(tmp_path, "bad.pcap", blob)
    src, batches = read_all([path], batch_size=4096)
    got = list(flat(batches))
    assert [g[1] for g in got] == [r[2] for r in good]  # each exactly once, in order
    s = src.summaries[0]
    offset = len(pcap_file(good))
    assert s.errors == [
        f"bad.pcap: record at byte offset {offset} claims 3925868813 bytes (snaplen 65535): "
        "stopped reading"
    ]
    assert s.truncated and s.packets == 9000


def test_small_read_chunks_move_along_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader_path: str
) -> None:
    monkeypatch.setattr(read_window, "CHUNK_BYTES", 65536)
    recs = [(s, f, d, w + 1000 + i) for i, (s, f, d, w) in enumerate(frames(3000))]
    src, batches = read_all([write(tmp_path, "w.pcap", pcap_file(recs))], batch_size=100)
    assert [(f, w) for _, f, w in flat(batches)] == [(r[2], r[3]) for r in recs]
    assert src.summaries[0].bytes == sum(r[3] for r in recs)


def test_record_longer_than_snaplen_by_a_lot_is_damage(tmp_path: Path) -> None:
    recs = frames(3)
    huge = (T0 + 5, 0, bytes(200_000), 200_000)
    blob = pcap_file(recs, snaplen=96) + pcap_record(huge)
    src, _ = read_all([write(tmp_path, "s.pcap", blob)])
    assert src.summaries[0].packets == 3
    assert "claims 200000 bytes (snaplen 96)" in src.summaries[0].errors[0]


def test_record_over_snaplen_is_read_whole(tmp_path: Path) -> None:
    """libpcap would cut such a record to the snaplen; the reader keeps it all."""
    recs = [*frames(5), (T0 + 9, 0, bytes(range(200)), 300), *frames(5, 10)]
    blob = pcap_file(recs, snaplen=100)
    src, batches = read_all([write(tmp_path, "lax.pcap", blob)])
    got = list(flat(batches))
    assert [g[1] for g in got] == [r[2] for r in recs]
    assert got[5][2] == 300
    assert src.summaries[0].errors == []


@pytest.mark.parametrize("snaplen", [0, 1, 1515])
def test_zero_or_odd_snaplen_reads(tmp_path: Path, reader_path: str, snaplen: int) -> None:
    recs = [(T0, i, bytes(60), 60) for i in range(5)]
    src, _ = read_all([write(tmp_path, "z.pcap", pcap_file(recs, snaplen=snaplen))])
    assert src.summaries[0].packets == 5
    assert src.summaries[0].errors == []


def test_linktype_fcs_bits_are_dropped(tmp_path: Path, reader_path: str) -> None:
    blob = pcap_file(frames(2), linktype=0x40000001)
    _, batches = read_all([write(tmp_path, "fcs.pcap", blob)])
    assert {b.linktype for b in batches} == {1}


@pytest.mark.parametrize("version", [(2, 2), (2, 3)])
def test_old_versions_with_swapped_lengths(tmp_path: Path, version: tuple[int, int]) -> None:
    recs = [(T0, 0, bytes(40), 1000), (T0, 1, bytes(50), 50)]
    body = b"".join(pcap_record(r, swapped_lengths=True) for r in recs)
    blob = pcap_header(version=version) + body
    _, batches = read_all([write(tmp_path, "old.pcap", blob)])
    assert [(len(f), w) for _, f, w in flat(batches)] == [(40, 1000), (50, 50)]


@pytest.mark.parametrize("nano", [False, True])
def test_gzip_of_pcap(tmp_path: Path, nano: bool) -> None:
    recs = frames(300)
    plain = write(tmp_path, "p.pcap", pcap_file(recs, ">", nano))
    packed = write(tmp_path, "p.bin", gzip.compress(pcap_file(recs, ">", nano)))
    src, batches = read_all([packed])
    assert src.summaries[0].format == ("pcap-ns.gz" if nano else "pcap.gz")
    assert list(flat(batches)) == list(flat(read_all([plain])[1]))


def test_damaged_gzip_stream(tmp_path: Path) -> None:
    recs = frames(2000)
    packed = gzip.compress(pcap_file(recs), compresslevel=1)
    half = packed[: len(packed) // 2]
    decodable = len(zlib.decompressobj(wbits=31).decompress(half))
    ends = 24 + np.cumsum([16 + len(r[2]) for r in recs])
    whole = int(np.searchsorted(ends, decodable, side="right"))
    src, batches = read_all([write(tmp_path, "d.pcap.gz", half)])
    s = src.summaries[0]
    assert 0 < s.packets == whole < 2000  # every record that decompressed whole
    assert [f for _, f, _ in flat(batches)] == [r[2] for r in recs[:whole]]
    assert s.truncated and s.format == "pcap.gz"
    assert s.errors and s.errors[-1].startswith("d.pcap.gz: ")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty file"),
        (b"hello, this is not a capture at all\n", "not a pcap or pcapng file"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "cut short in the file header"),
        (gzip.compress(b"plain text inside gzip"), "not a pcap or pcapng file"),
        (b"\x1f\x8bnot really gzip", "damaged gzip"),
    ],
)
def test_unreadable_input_does_not_raise(tmp_path: Path, content: bytes, needle: str) -> None:
    path = write(tmp_path, "junk.pcap", content)
    src, batches = read_all([path])
    assert batches == []
    s = src.summaries[0]
    assert s.packets == 0 and s.format == ""
    assert len(s.errors) == 1 and s.errors[0].startswith("junk.pcap: ") and needle in s.errors[0]
    assert not src.any_readable


def test_missing_file_and_good_file(tmp_path: Path) -> None:
    good = write(tmp_path, "good.pcap", pcap_file(frames(10)))
    src, batches = read_all([str(tmp_path / "missing.pcap"), good])
    assert sum(len(b) for b in batches) == 10
    assert {b.source for b in batches} == {1}
    assert src.summaries[0].errors == ["missing.pcap: cannot open: No such file or directory"]
    assert src.summaries[1].packets == 10 and src.any_readable


def test_header_only_file_is_readable_and_empty(tmp_path: Path, reader_path: str) -> None:
    src, batches = read_all([write(tmp_path, "e.pcap", pcap_header())])
    assert batches == [] and src.any_readable and src.summaries[0].errors == []


def test_two_overlapping_files_merge_in_time_order(tmp_path: Path) -> None:
    a = write(tmp_path, "a.pcap", pcap_file(frames(3000, 0, step_us=700)))
    b = write(tmp_path, "b.pcap", pcap_file(frames(2000, 5000, step_us=1000)))
    src, batches = read_all([a, b], batch_size=256)
    ts = np.concatenate([x.ts for x in batches])
    assert len(ts) == 5000 and np.all(np.diff(ts) >= 0)
    assert [s.packets for s in src.summaries] == [3000, 2000]
    per_source = {0: 0, 1: 0}
    for x in batches:
        per_source[x.source] += len(x)
    assert per_source == {0: 3000, 1: 2000}


def test_batches_can_be_read_twice(tmp_path: Path) -> None:
    src = OfflineSource([write(tmp_path, "a.pcap", pcap_file(frames(10)))])
    assert sum(len(b) for b in src.batches()) == 10
    assert sum(len(b) for b in src.batches()) == 10
    assert src.summaries[0].packets == 10


def test_read_buffers_are_reused_only_when_no_batch_points_into_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read_window, "CHUNK_BYTES", 4096)
    recs = frames(3000)
    path = write(tmp_path, "r.pcap", pcap_file(recs))
    header = pcapfile.parse_pcap_header(pcap_file([]))
    with open(path, "rb") as fobj:
        fobj.seek(pcapfile.PCAP_HEADER_LEN)
        sink = pcapfile.InputSummary(path=path)
        reader = pcapfile.PcapStreamReader(
            fobj, header, name="r.pcap", source=0, batch_size=64, sink=sink
        )
        streamed = [f for b in reader.batches() for f in (b.frame(i) for i in range(len(b)))]
        window = reader.window
        assert isinstance(window, read_window.ReusingChunkedReader)
        assert window.new_buffers == 2  # one per side of the double buffer, then reuse
    assert streamed == [r[2] for r in recs]
    _, held = read_all([path], batch_size=64)  # every batch kept: no buffer may be reused
    assert [f for _, f, _ in flat(held)] == [r[2] for r in recs]
