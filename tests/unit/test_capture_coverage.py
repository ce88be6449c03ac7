"""What the readers tell about coverage: gaps in time, interface drops, gzip damage."""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from monitor.audit import MAX_GAPS_LISTED, InterfaceDrops, TimeGap
from monitor.capture.gaps import GapTracker
from monitor.capture.gzip_stream import GzipStream
from monitor.capture.offline import OfflineSource
from monitor.capture.pcapng_stats import parse_isb
from tests.unit.test_capture_offline import frames, pcap_file
from tests.unit.test_capture_pcapng import block, epb, idb, option, shb

T0 = 1_700_000_000.0


def ts(*values: float) -> np.ndarray:
    return np.asarray([T0 + v for v in values], dtype=np.float64)


def test_gaps_within_and_between_batches() -> None:
    g = GapTracker(300.0)
    g.add(ts(0, 10, 400, 410))  # 390 s within the batch
    g.add(ts(1000, 1001))  # 590 s between batches
    g.add(ts(1200))  # 199 s: no gap
    s = g.summary
    assert s.gaps == [TimeGap(T0 + 10, T0 + 400), TimeGap(T0 + 410, T0 + 1000)]
    assert (s.total, s.seconds, s.longest, s.threshold) == (2, 980.0, 590.0, 300.0)
    assert s.gaps[0].to_json() == {"start": T0 + 10, "end": T0 + 400, "seconds": 390.0}


def test_a_batch_out_of_order_is_sorted_first() -> None:
    g = GapTracker(300.0)
    g.add(ts(0, 500, 100, 200, 300, 400))  # in order: no step is longer than 100 s
    assert g.summary.total == 0
    g.add(ts(450))  # an older packet after the newest: not a gap
    g.add(ts(900))
    assert g.summary.gaps == [TimeGap(T0 + 500, T0 + 900)]


@pytest.mark.parametrize("threshold", [None, 0.0, -5.0])
def test_gaps_can_be_switched_off(threshold: float | None) -> None:
    g = GapTracker(threshold)
    g.add(ts(0, 100_000))
    assert g.summary.total == 0 and g.summary.threshold is None


def test_gap_list_is_bounded_but_every_gap_counted() -> None:
    g = GapTracker(1.0)
    g.add(np.arange(MAX_GAPS_LISTED + 500, dtype=np.float64) * 10.0)
    assert g.summary.total == MAX_GAPS_LISTED + 499
    assert len(g.summary.gaps) == MAX_GAPS_LISTED
    assert g.summary.gaps[0] == TimeGap(0.0, 10.0)


def isb(iface: int, counters: dict[int, int], order: str = "<") -> bytes:
    opts = b"".join(
        option(code, struct.pack(order + "Q", v), order) for code, v in counters.items()
    )
    head = struct.pack(order + "III", iface, 0, 0)
    return block(5, head + opts + option(0, b"", order), order)


def named_idb(name: str, order: str = "<") -> bytes:
    body = struct.pack(order + "HHI", 1, 0, 262144)
    body += option(2, name.encode(), order) + option(0, b"", order)
    return block(1, body, order)


@pytest.mark.parametrize("order", ["<", ">"])
def test_interface_statistics_blocks_give_drops_per_interface(tmp_path: Path, order: str) -> None:
    frame = bytes(60)
    data = (
        shb(order) + named_idb("eth0", order) + idb(1, order=order)
        + epb(0, 1, frame, order=order) + epb(1, 2, frame, order=order)
        + isb(0, {4: 100, 5: 1, 7: 2}, order)
        + isb(0, {4: 200, 5: 3, 7: 4}, order)  # cumulative: the last one counts
        + isb(1, {4: 50}, order)  # drops not recorded
        + isb(7, {5: 99}, order)  # no such interface: ignored
        + shb(order) + named_idb("eth9", order) + epb(0, 3, frame, order=order)
        + isb(0, {7: 5}, order)  # the third interface of the file
    )  # fmt: skip
    path = tmp_path / "stats.pcapng"
    path.write_bytes(data)
    src = OfflineSource([str(path)])
    assert sum(len(b) for b in src.batches()) == 3
    s = src.summaries[0]
    assert s.interface_drops == [
        InterfaceDrops(0, "eth0", 200, 3, 4),
        InterfaceDrops(1, None, 50, None, None),
        InterfaceDrops(2, "eth9", None, None, 5),
    ]
    assert [d.dropped for d in s.interface_drops] == [7, 0, 5]
    assert s.complete and s.errors == []  # drops are coverage, not damage to the file
    assert s.interface_drops[0].to_json("x") == {
        "input": "x", "interface": 0, "name": "eth0", "received": 200, "ifdrop": 3, "osdrop": 4,
    }  # fmt: skip


def test_isb_options_cut_short_are_left_out() -> None:
    body = struct.pack("<III", 0, 0, 0) + struct.pack("<HH", 5, 8) + b"\x01\x02"
    assert parse_isb(body, "<") == (0, {})


def _decode_byte_by_byte(data: bytes) -> bytes:
    """What zlib gives when fed one byte at a time, up to its first error."""
    z, out = zlib.decompressobj(wbits=31), []
    for i in range(len(data)):
        try:
            out.append(z.decompress(data[i : i + 1]))
        except zlib.error:
            break
    return b"".join(out)


def _drain(stream: GzipStream, size: int) -> tuple[bytes, Exception | None]:
    parts = []
    while True:
        try:
            piece = stream.read(size)
        except (zlib.error, EOFError) as exc:
            return b"".join(parts), exc
        if not piece:
            return b"".join(parts), None
        parts.append(piece)


def _stored_blocks(packed: bytes) -> list[int]:
    """Where each stored (level 0) deflate block of a one-member gzip starts."""
    p, starts = 10, []
    while True:
        starts.append(p)
        (length,) = struct.unpack_from("<H", packed, p + 1)
        if packed[p] & 1:
            return starts
        p += 5 + length


@pytest.mark.parametrize("read_size", [1000, 1 << 22])
def test_gzip_damage_found_mid_stream_keeps_everything_before(read_size: int) -> None:
    plain = pcap_file(frames(4000))
    packed = bytearray(gzip.compress(plain, compresslevel=0))
    starts = _stored_blocks(bytes(packed))
    bad = starts[len(starts) // 2]
    packed[bad + 3] ^= 0xFF  # NLEN no longer matches LEN: zlib stops right there
    got, error = _drain(GzipStream(io.BytesIO(bytes(packed))), read_size)
    assert isinstance(error, zlib.error) and "stored block lengths" in str(error)
    assert got == plain[: bad - 10 - 5 * (len(starts) // 2)]  # every block before it, whole


@pytest.mark.parametrize("read_size", [1000, 1 << 22])
def test_gzip_damage_found_at_the_crc_keeps_what_zlib_decoded(read_size: int) -> None:
    plain = pcap_file(frames(4000))
    packed = bytearray(gzip.compress(plain, compresslevel=6))
    middle = len(packed) // 2
    packed[middle : middle + 64] = bytes(range(64))  # decodes, to garbage, up to the CRC
    want = _decode_byte_by_byte(bytes(packed))
    got, error = _drain(GzipStream(io.BytesIO(bytes(packed))), read_size)
    assert isinstance(error, zlib.error) and "data check" in str(error)
    assert got == want and got[: len(plain) // 3] == plain[: len(plain) // 3]


def test_gzip_members_and_a_cut_stream() -> None:
    two = gzip.compress(b"a" * 300_000) + gzip.compress(b"b" * 5)
    assert _drain(GzipStream(io.BytesIO(two)), 4096) == (b"a" * 300_000 + b"b" * 5, None)
    got, error = _drain(GzipStream(io.BytesIO(two[:-40])), 4096)
    assert isinstance(error, EOFError) and got == (b"a" * 300_000)[: len(got)]
