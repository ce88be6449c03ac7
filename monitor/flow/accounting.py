"""Count a batch's groups into their FlowStates: the flow table's per-group loop.

For each group the table keeps as a FlowState: find the live flow of its key, or have
``flow_for(key, i)`` start one (none yet, idled out, or a SYN that may restart a closed
one); add the group's packets, bytes and TCP flags on the originator's and responder's
sides; move ``last_ts`` on; and take the flow's first ``limit`` frames as head frames
(``head_starts``/``head_takes``: spans of ``Groups.members``). The C twin in
``_account.c`` runs the same loop without the interpreter and is used when built;
:func:`account_groups_python` is the fallback and the oracle the tests compare it with.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from monitor.flow.batch import BatchResult
from monitor.flow.grouping import Groups
from monitor.flow.state import FlowState
from monitor.speedups import load

I64 = npt.NDArray[np.int64]
FlowFor = Callable[[int, int], tuple[FlowState, bool]]
_account = load("monitor.flow._account")


def account_columns(g: Groups) -> tuple[npt.NDArray[np.generic], ...]:
    """The group columns the loop reads, in the order both twins take them."""
    return (
        g.keys, g.first_ts, g.last_ts, g.low_syn, g.high_syn, g.low_pkts, g.high_pkts,
        g.low_bytes, g.high_bytes, g.low_flags, g.high_flags, g.starts, g.counts,
    )  # fmt: skip


def account_groups(
    rows: I64, g: Groups, flows: dict[int, FlowState], flow_for: FlowFor, result: BatchResult,
    limit: int, idle: float,
) -> tuple[list[int], list[int]]:  # fmt: skip
    """Count groups ``rows`` of ``g`` into their flows (``result``'s group_flow, new and
    pending lists); the head spans (starts, takes)."""
    starts: list[int] = []
    takes: list[int] = []
    args = (rows, account_columns(g), flows, flow_for, result.group_flow, result.new,
            result.pending, limit, idle, starts, takes)  # fmt: skip
    if _account is not None:
        _account.account(*args)
    else:
        account_groups_python(*args)
    return starts, takes


def account_groups_python(
    rows: I64,
    columns: tuple[npt.NDArray[np.generic], ...],
    flows: dict[int, FlowState],
    flow_for: FlowFor,
    group_flow: list[FlowState | None],
    new: list[FlowState],
    pending: list[FlowState],
    limit: int,
    idle: float,
    head_starts: list[int],
    head_takes: list[int],
) -> None:
    """The loop in Python (see the module docstring); ``_account.account`` is its twin."""
    picked = (rows, *(c[rows] for c in columns))
    for i, key, first, last, lsyn, hsyn, lp, hp, lb, hb, lf, hf, start, count in zip(
        *(c.tolist() for c in picked), strict=True
    ):
        flow = flows.get(key)
        # the common case, inline: a live flow that goes on
        if flow is None or first - flow.last_ts > idle or lsyn or hsyn:
            flow, is_new = flow_for(key, i)
            if is_new:
                new.append(flow)
        group_flow[i] = flow
        if not flow.settled:
            pending.append(flow)
        if flow.orig_is_low:  # the low end of the key is the originator
            op, ob, of, rp, rb, rf = lp, lb, lf, hp, hb, hf
        else:
            op, ob, of, rp, rb, rf = hp, hb, hf, lp, lb, lf
        flow.orig_pkts += op
        flow.orig_bytes += ob
        flow.orig_flags |= of
        flow.resp_pkts += rp
        flow.resp_bytes += rb
        flow.resp_flags |= rf
        if last > flow.last_ts:
            flow.last_ts = last
        if flow.head_seen < limit:
            take = min(limit - flow.head_seen, count)
            head_starts.append(start)
            head_takes.append(take)
            flow.head_seen += take
