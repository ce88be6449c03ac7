"""Group the IP frames of one batch by flow key, with per-flow aggregates.

Groups come out in the order of each flow's first frame in the batch, so flows are
numbered in the order they appear. The C twin in ``_groups.c`` does it in one pass
with a hash table and is used when built; the numpy version here (sort based) is the
fallback and the oracle the tests compare it with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.decode.frames import DecodedBatch
from monitor.flow import key
from monitor.flow.key import flow_keys
from monitor.flow.state import TCP_ACK, TCP_SYN
from monitor.speedups import load

I64 = npt.NDArray[np.int64]
_groups = load("monitor.flow._groups")


@dataclass(slots=True)
class Groups:
    """Per-flow aggregates of one batch: numpy columns indexed by group.

    ``members[starts[g] : starts[g] + counts[g]]`` are group ``g``'s frames in frame
    order; ``frame_group[i]`` is frame ``i``'s group (-1 when it is not IP), and
    ``frame_low[i]`` whether its sender is the canonical low endpoint of the key.
    ``low_errors``/``high_errors`` count the ICMP errors among ``low_pkts``/``high_pkts``
    (frames the decoder gave the flow of the packet they quote).
    """

    keys: npt.NDArray[np.uint64]
    rep: I64
    low_pkts: I64
    high_pkts: I64
    low_bytes: I64
    high_bytes: I64
    first_ts: npt.NDArray[np.float64]
    last_ts: npt.NDArray[np.float64]
    low_flags: I64
    high_flags: I64
    low_syn: npt.NDArray[np.bool_]
    high_syn: npt.NDArray[np.bool_]
    low_synack: npt.NDArray[np.bool_]
    starts: I64
    counts: I64
    members: I64
    frame_group: I64
    frame_low: npt.NDArray[np.bool_]
    low_errors: I64
    high_errors: I64

    def __len__(self) -> int:
        return int(self.keys.shape[0])


# dtypes of the C function's per-group outputs, in its order
_GROUP_DTYPES = (
    np.uint64, np.int64, np.int64, np.int64, np.int64, np.int64, np.int64, np.float64,
    np.float64, np.int64, np.int64, np.bool_, np.bool_, np.bool_,
)  # fmt: skip


def group_batch(d: DecodedBatch, seed: int | None = None) -> Groups:
    """Group the IP frames of ``d`` by flow (``d`` should hold at least one); flow keys
    are keyed by ``seed`` (default: the process's, :data:`monitor.flow.key.SEED`)."""
    if _groups is None:
        return group_batch_numpy(d, seed)
    n = len(d.batch)
    frame_out = (
        np.empty(n, np.uint64),
        np.empty(n, np.bool_),
        np.empty(n, np.int64),
        np.empty(n, np.int64),
    )
    group_out: tuple[Any, ...] = tuple(np.empty(n, t) for t in _GROUP_DTYPES)
    columns = (d.ip, d.src_key, d.dst_key, d.sport, d.dport, d.proto, d.wirelen, d.tcp_flags)
    ts = np.ascontiguousarray(d.batch.ts, dtype=np.float64)
    g = _groups.group((*columns, ts), frame_out, group_out, key.SEED if seed is None else seed)
    k, rep, count, start, lp, lb, hb, fts, lts, lf, hf, ls, hs, lsa = (a[:g] for a in group_out)
    low_errors, high_errors = _error_counts(d, frame_out[2], frame_out[1], g)
    return Groups(
        keys=k,
        rep=rep,
        low_pkts=lp,
        high_pkts=count - lp,
        low_bytes=lb,
        high_bytes=hb,
        first_ts=fts,
        last_ts=lts,
        low_flags=lf,
        high_flags=hf,
        low_syn=ls,
        high_syn=hs,
        low_synack=lsa,
        starts=start,
        counts=count,
        members=frame_out[3][: int(count.sum())],
        frame_group=frame_out[2],
        frame_low=frame_out[1],
        low_errors=low_errors,
        high_errors=high_errors,
    )


def group_batch_numpy(d: DecodedBatch, seed: int | None = None) -> Groups:
    """``group_batch`` in numpy (the fallback without the C speedup, and its oracle)."""
    keys, src_low = flow_keys(d, seed)
    frames = np.flatnonzero(d.ip)
    uniq, first, inverse, counts = np.unique(
        keys[frames], return_index=True, return_inverse=True, return_counts=True
    )
    appearance = np.argsort(first, kind="stable")
    rank = np.empty_like(appearance)
    rank[appearance] = np.arange(appearance.size)
    inverse = rank[inverse.reshape(-1)]
    uniq, counts = uniq[appearance], counts[appearance]
    order = np.argsort(inverse, kind="stable")
    starts = np.zeros(len(uniq), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    sel = frames[order]
    low = src_low[sel].astype(np.int64)
    high = 1 - low
    wl = d.wirelen[sel]
    fl = d.tcp_flags[sel]
    syn_only = ((fl & (TCP_SYN | TCP_ACK)) == TCP_SYN).astype(np.int64)
    synack = ((fl & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)).astype(np.int64)
    ts = d.batch.ts[sel]
    add = np.add.reduceat
    low_pkts = add(low, starts)
    low_bytes = add(wl * low, starts)
    frame_group = np.full(len(d.batch), -1, dtype=np.int64)
    frame_group[frames] = inverse
    low_errors, high_errors = _error_counts(d, frame_group, src_low, len(uniq))
    return Groups(
        keys=uniq.astype(np.uint64),
        rep=sel[starts].astype(np.int64),
        low_pkts=low_pkts.astype(np.int64),
        high_pkts=(counts - low_pkts).astype(np.int64),
        low_bytes=low_bytes.astype(np.int64),
        high_bytes=(add(wl, starts) - low_bytes).astype(np.int64),
        first_ts=np.minimum.reduceat(ts, starts).astype(np.float64),
        last_ts=np.maximum.reduceat(ts, starts).astype(np.float64),
        low_flags=np.bitwise_or.reduceat(fl * low, starts).astype(np.int64),
        high_flags=np.bitwise_or.reduceat(fl * high, starts).astype(np.int64),
        low_syn=add(syn_only * low, starts) > 0,
        high_syn=add(syn_only * high, starts) > 0,
        low_synack=add(synack * low, starts) > 0,
        starts=starts,
        counts=counts.astype(np.int64),
        members=sel,
        frame_group=frame_group,
        frame_low=src_low,
        low_errors=low_errors,
        high_errors=high_errors,
    )


def _error_counts(
    d: DecodedBatch, frame_group: I64, frame_low: npt.NDArray[np.bool_], groups: int
) -> tuple[I64, I64]:
    """Per group, the ICMP errors sent by its low and by its high endpoint."""
    if not d.icmp_error.any():
        return np.zeros(groups, dtype=np.int64), np.zeros(groups, dtype=np.int64)
    frames = np.flatnonzero(d.icmp_error & (frame_group >= 0))
    group, low = frame_group[frames], frame_low[frames]
    return (
        np.bincount(group[low], minlength=groups).astype(np.int64),
        np.bincount(group[~low], minlength=groups).astype(np.int64),
    )
