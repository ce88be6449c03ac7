"""The k-way timestamp merge of FrameBatch streams."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from monitor.capture.merge import merge_batches, slice_batch
from monitor.model import FrameBatch


def make_batch(ts: Sequence[float], source: int, linktype: int = 1) -> FrameBatch:
    """Frames whose bytes name their source and index (so they can be told apart)."""
    n = len(ts)
    data = b"".join(bytes([source]) + i.to_bytes(4, "big") for i in range(n))
    return FrameBatch(
        data=data,
        ts=np.asarray(ts, dtype=np.float64),
        offset=np.arange(n, dtype=np.int64) * 5,
        caplen=np.full(n, 5, dtype=np.int64),
        wirelen=np.full(n, 60, dtype=np.int64),
        linktype=linktype,
        source=source,
    )


def stream(ts: Sequence[float], source: int, size: int) -> list[FrameBatch]:
    """One sorted stream cut into batches of ``size`` (frames numbered across the stream)."""
    whole = make_batch(ts, source)
    return [slice_batch(whole, i, min(i + size, len(ts))) for i in range(0, len(ts), size)]


def frames(batches: Sequence[FrameBatch]) -> list[tuple[float, int, bytes]]:
    return [(float(b.ts[i]), b.source, b.frame(i)) for b in batches for i in range(len(b))]


def test_slice_shares_data_and_slices_arrays() -> None:
    b = make_batch([1.0, 2.0, 3.0, 4.0], source=3)
    s = slice_batch(b, 1, 3)
    assert s.data is b.data
    assert s.ts.tolist() == [2.0, 3.0] and s.source == 3 and s.linktype == 1
    assert s.frame(0) == b.frame(1)
    assert np.shares_memory(s.offset, b.offset)


def test_two_overlapping_streams() -> None:
    a = stream(np.arange(0, 100, 1.0), 0, 16)
    b = stream(np.arange(50.5, 150, 2.0), 1, 10)
    out = list(merge_batches([a, b]))
    ts = np.concatenate([x.ts for x in out])
    assert np.all(np.diff(ts) >= 0)
    assert sorted(frames(out)) == sorted(frames(a) + frames(b))
    assert len(frames(out)) == len(frames(a)) + len(frames(b))
    assert all(len(x) for x in out)
    # the part before the overlap passes as whole batches, not frame by frame
    assert len(out) < 100


def test_ties_go_to_the_stream_listed_first() -> None:
    a = stream([1.0, 2.0, 2.0, 3.0], 0, 4)
    b = stream([2.0, 2.0, 4.0], 1, 3)
    out = frames(list(merge_batches([a, b])))
    assert [(t, s) for t, s, _ in out] == [
        (1.0, 0),
        (2.0, 0),
        (2.0, 0),
        (2.0, 1),
        (2.0, 1),
        (3.0, 0),
        (4.0, 1),
    ]


@pytest.mark.parametrize("seed", range(5))
def test_random_streams_keep_every_frame_once_in_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    streams = []
    for source in range(int(rng.integers(1, 6))):
        n = int(rng.integers(0, 400))
        ts = np.sort(rng.integers(0, 300, size=n).astype(np.float64))
        streams.append(stream(ts, source, int(rng.integers(1, 64))))
    out = list(merge_batches(streams))
    ts_out = np.concatenate([x.ts for x in out]) if out else np.empty(0)
    assert np.all(np.diff(ts_out) >= 0)
    want = [f for s in streams for f in frames(s)]
    assert sorted(frames(out)) == sorted(want) and len(frames(out)) == len(want)
    for source, s in enumerate(streams):  # each stream's own order is kept
        mine = [f for f in frames(out) if f[1] == source]
        assert mine == frames(s)


def test_empty_streams_and_empty_batches() -> None:
    empty = make_batch([], 1)
    a = [empty, *stream([1.0, 5.0], 0, 1), empty]
    out = list(merge_batches([a, [], [empty]]))
    assert [len(x) for x in out] == [1, 1]
    assert list(merge_batches([])) == []


def test_unsorted_stream_still_delivers_everything() -> None:
    a = [make_batch([5.0, 1.0, 3.0], 0)]
    b = [make_batch([2.0, 4.0], 1)]
    out = list(merge_batches([a, b]))
    assert sorted(frames(out)) == sorted(frames(a) + frames(b))


def test_stopping_early_closes_the_inputs() -> None:
    closed = []

    def gen(source: int) -> Iterator[FrameBatch]:
        try:
            for i in range(10):
                yield make_batch([float(i)], source)
        finally:
            closed.append(source)

    merged = merge_batches([gen(0), gen(1)])
    next(merged)
    merged.close()  # type: ignore[attr-defined]
    assert sorted(closed) == [0, 1]
