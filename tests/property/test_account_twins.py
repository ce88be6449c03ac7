"""The flow table's per-group loop: the C twin (_account.c) does what the Python one does.

Both twins run the same batches through a FlowTable of their own; every batch's result
(new, pending and ended flows, each group's flow, the head frames) and every flow's
counters must come out the same: on every sample and real capture, and on Hypothesis
batches of a few endpoints with SYNs, resets, idle gaps and a full table, which take
the restart, eviction and head-limit branches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

import monitor.flow.accounting as accounting
from monitor.capture.offline import OfflineSource
from monitor.decode.frames import decode_batch
from monitor.flow.grouping import group_batch
from monitor.flow.settings import FlowSettings
from monitor.flow.table import FlowTable
from monitor.model import FrameBatch
from tests.framebuild import batch_of
from tests.property.test_speedup_twins import capture_files

C_ACCOUNT = accounting._account
needs_c = pytest.mark.skipif(C_ACCOUNT is None, reason="the C speedups are not built")
COUNTED = ("orig_pkts", "orig_bytes", "resp_pkts", "resp_bytes", "orig_flags", "resp_flags",
           "first_ts", "last_ts", "head_seen", "orig_is_low", "orig_addr", "resp_addr",
           "orig_port", "resp_port", "proto", "icmp_errors")  # fmt: skip


def run_table(
    batches: Iterable[FrameBatch], twin: ModuleType | None, settings: FlowSettings
) -> list[Any]:
    """What a FlowTable does with ``batches`` when the loop is ``twin`` (None: Python)."""
    saved = accounting._account
    accounting._account = twin
    try:
        table = FlowTable(settings)
        out: list[Any] = []
        for batch in batches:
            r = table.ingest(decode_batch(batch))
            out.append((
                [f.uid for f in r.new],
                [f.uid for f in r.pending],
                [(f.uid, reason) for f, reason in r.ended],
                [f.uid if f is not None else None for f in r.group_flow],
                r.head_mask.tobytes(),
            ))  # fmt: skip
        flows = sorted(table.flows.values(), key=lambda f: f.uid)
        out.append([(f.uid, *(getattr(f, name) for name in COUNTED)) for f in flows])
        out.append((table.created, table.evictions))
        return out
    finally:
        accounting._account = saved


def assert_twins_agree(batches: list[FrameBatch], settings: FlowSettings) -> None:
    python = run_table(batches, None, settings)
    assert run_table(batches, C_ACCOUNT, settings) == python


@needs_c
def test_twins_agree_on_every_capture() -> None:
    checked = 0
    for path in capture_files():
        batches = list(OfflineSource([str(path)], batch_size=256).batches())
        assert_twins_agree(batches, FlowSettings())
        checked += sum(len(b) for b in batches)
    assert checked > 0


HOSTS = ("10.0.0.1", "10.0.0.2", "192.0.2.9")
FLAGS = ("S", "SA", "A", "PA", "FA", "R", "RA")


@st.composite
def frames(draw: st.DrawFn) -> tuple[bytes, float]:
    src, dst = draw(st.sampled_from(HOSTS)), draw(st.sampled_from(HOSTS))
    sport, dport = draw(st.sampled_from((80, 554, 40000))), draw(st.sampled_from((80, 50000)))
    if draw(st.booleans()):
        l4: Any = TCP(sport=sport, dport=dport, flags=draw(st.sampled_from(FLAGS)))
    else:
        l4 = UDP(sport=sport, dport=dport)
    payload = b"x" * draw(st.integers(0, 40))
    gap = draw(st.sampled_from((0.0, 0.5, 40.0, 400.0)))  # idle past the timeout at 400
    return bytes(Ether() / IP(src=src, dst=dst) / l4 / payload), gap


@needs_c
@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(frames(), min_size=1, max_size=12), min_size=1, max_size=6),
    st.integers(1, 4),
    st.sampled_from((2, 1000)),
)
def test_twins_agree_on_restarts_evictions_and_head_limits(
    drawn: list[list[tuple[bytes, float]]], head_packets: int, max_flows: int
) -> None:
    ts = 1_700_000_000.0
    batches = []
    for batch in drawn:
        times = []
        for _, gap in batch:
            ts += gap
            times.append(ts)
        batches.append(batch_of([f for f, _ in batch], times))
    settings = dataclasses.replace(
        FlowSettings(), head_packets=head_packets, max_flows=max_flows, idle_timeout=300.0
    )
    assert_twins_agree(batches, settings)


@needs_c
def test_the_c_loop_refuses_a_row_outside_the_groups() -> None:
    batch = batch_of([Ether() / IP() / UDP()])
    table = FlowTable(FlowSettings())
    assert C_ACCOUNT is not None
    columns = accounting.account_columns(group_batch(decode_batch(batch)))
    rows = np.array([5], dtype=np.int64)  # one group in the batch
    with pytest.raises(ValueError, match="outside"):
        C_ACCOUNT.account(rows, columns, table.flows, lambda key, i: (None, False), [None],
                          [], [], 5, 300.0, [], [])  # fmt: skip
