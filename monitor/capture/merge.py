"""K-way merge of per-input FrameBatch streams into one stream in timestamp order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from monitor.model import FrameBatch


def slice_batch(batch: FrameBatch, start: int, stop: int) -> FrameBatch:
    """Frames ``start:stop`` of ``batch``; shares its ``data``, slices its arrays (views)."""
    return FrameBatch(
        data=batch.data,
        ts=batch.ts[start:stop],
        offset=batch.offset[start:stop],
        caplen=batch.caplen[start:stop],
        wirelen=batch.wirelen[start:stop],
        linktype=batch.linktype,
        source=batch.source,
    )


def split_at_ticks(batch: FrameBatch, interval: float | None) -> Iterator[FrameBatch]:
    """Cut a batch where packet time crosses a multiple of ``interval``, so metric
    snapshots land on their tick even when one batch spans minutes of a quiet capture."""
    if not interval or len(batch) == 0:
        yield batch
        return
    first, last = float(batch.ts[0]), float(batch.ts[-1])
    ticks = np.arange((first // interval + 1) * interval, last, interval)
    cuts = np.searchsorted(batch.ts, ticks, side="left").tolist() if ticks.size else []
    start = 0
    for cut in [*cuts, len(batch)]:
        if cut > start:
            yield slice_batch(batch, start, cut)
            start = cut


def _next_nonempty(it: Iterator[FrameBatch]) -> FrameBatch | None:
    for batch in it:
        if len(batch):
            return batch
    return None


def merge_batches(streams: Sequence[Iterable[FrameBatch]]) -> Iterator[FrameBatch]:
    """All frames of all streams, ordered by timestamp across streams.

    Each stream is assumed to be in timestamp order itself (a stream that is not still
    has every frame delivered exactly once). Vectorised per batch: take the stream whose
    head starts earliest and emit the prefix of its head batch with ``ts`` not after the
    next-earliest head's first timestamp. Ties go to the stream listed first. Emitted
    batches are views of the input batches; empty batches are dropped.
    """
    iters = [iter(s) for s in streams]
    heads: dict[int, FrameBatch] = {}
    try:
        for i, it in enumerate(iters):
            first = _next_nonempty(it)
            if first is not None:
                heads[i] = first
        while len(heads) > 1:
            yield _emit_earliest(heads, iters)
        for i, batch in heads.items():
            yield batch
            yield from (b for b in iters[i] if len(b))
    finally:
        for it in iters:
            close = getattr(it, "close", None)
            if close is not None:
                close()


def _emit_earliest(heads: dict[int, FrameBatch], iters: list[Iterator[FrameBatch]]) -> FrameBatch:
    """Cut the next run off the earliest head; advance or drop that stream as needed."""
    order = sorted(heads, key=lambda j: (float(heads[j].ts[0]), j))
    first, runner_up = order[0], order[1]
    batch = heads[first]
    bound = heads[runner_up].ts[0]
    n = len(batch)
    k = max(1, int(np.searchsorted(batch.ts, bound, side="right")))
    if k < n:
        heads[first] = slice_batch(batch, k, n)
        return slice_batch(batch, 0, k)
    following = _next_nonempty(iters[first])
    if following is None:
        del heads[first]
    else:
        heads[first] = following
    return batch
