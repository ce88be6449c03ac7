"""Findings aggregate by (device, kind, peer, peer_port, proto) and stay bounded per device.

The rule (CONTRACT.md §3, README "Findings"): flows with one key are one finding that
counts them; per device and kind, keys beyond the bound fold into one summary finding.
Whatever folds where, the packets, bytes and flows per device and kind must equal the
sums over the flows (the oracle below does not aggregate).
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.make_flood import flood
from monitor.classify.catalog import load_catalog
from monitor.classify.evidence import evidence_tail
from monitor.classify.findings import FindingBook
from monitor.config import default_policy
from monitor.flow.key import v4_text
from monitor.model import AuditResult, Finding, FindingKind
from monitor.pipeline import Pipeline
from monitor.report.json_report import report_dict
from tests.framebuild import batch_of

CAM = "10.20.1.11"


def finding(
    peer: str = "198.51.100.7",
    port: int = 443,
    *,
    device: str = CAM,
    kind: FindingKind = FindingKind.EGRESS,
    first: float = 100.0,
    packets: int = 3,
    size: int = 180,
    answered: bool = False,
    name: str | None = None,
    uid: str = "F1",
) -> Finding:
    tail = evidence_tail(answered, 1, packets, size)
    return Finding(
        kind=kind, device=device, peer=peer, peer_port=port, proto="tcp", peer_name=name,
        vendor=None, endpoint=None, answered=answered, first_ts=first, last_ts=first + 1,
        packets=packets, bytes=size, evidence=f"{device} -> {peer}:{port}/tcp; {tail}",
        flow_uid=uid,
    )  # fmt: skip


def test_flows_with_one_key_are_one_finding_that_counts_them() -> None:
    book = FindingBook()
    book.add(finding(first=200.0, packets=2, size=100, name="later.example", uid="F2"))
    book.add(finding(first=100.0, packets=3, size=180, answered=True, uid="F1"))
    (f,) = book.findings()
    assert (f.flows, f.packets, f.bytes) == (2, 5, 280)
    assert (f.first_ts, f.last_ts, f.answered) == (100.0, 201.0, True)
    assert f.flow_uid == "F1"  # the earliest flow names it
    assert f.evidence.endswith("answered; 2 flows, 5 packets, 280 B")
    assert f.to_json()["flows"] == 2 and "peers" not in f.to_json()


def test_another_port_or_kind_is_another_finding() -> None:
    book = FindingBook()
    book.add(finding(port=443))
    book.add(finding(port=8443))
    book.add(finding(port=443, kind=FindingKind.VENDOR_CLOUD))
    assert len(book.findings()) == 3


def test_keys_beyond_the_bound_fold_into_one_summary_per_device_and_kind() -> None:
    book = FindingBook(max_findings=3)
    for i in range(10):
        book.add(finding(peer=f"198.51.100.{i}", port=1000 + i % 4, first=float(i)))
    book.add(finding(peer="198.51.100.1", device="10.20.1.12"))  # another device: its own
    found = book.findings()
    own = [f for f in found if not f.is_summary]
    (summary,) = [f for f in found if f.is_summary]
    assert len(own) == 4
    assert (summary.peer, summary.peer_port, summary.device) == (None, None, CAM)
    assert (summary.peers, summary.ports, summary.flows) == (7, 4, 7)
    assert summary.sample_peers == [f"198.51.100.{i}" for i in range(3, 8)]
    assert summary.first_ts == 3.0 and summary.last_ts == 10.0
    assert summary.evidence.startswith(f"{CAM}: scan of 7 outside addresses on 4 ports")
    doc = summary.to_json()
    assert doc["peer"] is None and doc["peers"] == 7 and doc["ports"] == 4
    assert doc["sample_peers"] == summary.sample_peers


def test_a_known_key_still_merges_after_the_bound_is_reached() -> None:
    book = FindingBook(max_findings=1)
    book.add(finding(peer="198.51.100.1"))
    book.add(finding(peer="198.51.100.2"))
    book.add(finding(peer="198.51.100.1"))
    own, summary = sorted(book.findings(), key=lambda f: f.is_summary)
    assert (own.flows, summary.flows) == (2, 1)


findings_stream = st.lists(
    st.tuples(
        st.sampled_from(["10.20.1.1", "10.20.1.2", "10.20.1.3"]),
        st.sampled_from(list(FindingKind)[:3]),
        st.integers(0, 40),  # peer
        st.integers(1, 5),  # port
        st.integers(1, 50),  # packets
        st.integers(60, 5000),  # bytes
        st.floats(0, 1000, allow_nan=False),
    ),
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(findings_stream, st.integers(1, 20))
def test_per_device_and_kind_totals_equal_the_unaggregated_sums(stream, bound) -> None:  # type: ignore[no-untyped-def]
    book = FindingBook(max_findings=bound)
    want: Counter[tuple[str, str, str]] = Counter()
    for device, kind, peer, port, packets, size, first in stream:
        f = finding(f"198.51.100.{peer}", port, device=device, kind=kind, first=first,
                    packets=packets, size=size)  # fmt: skip
        book.add(f)
        for what, n in (("packets", packets), ("bytes", size), ("flows", 1)):
            want[(device, kind.value, what)] += n
    got: Counter[tuple[str, str, str]] = Counter()
    per_device_kind: Counter[tuple[str, str]] = Counter()
    for f in book.findings():
        per_device_kind[(f.device, f.kind.value)] += 1
        for what in ("packets", "bytes", "flows"):
            got[(f.device, f.kind.value, what)] += getattr(f, what)
    assert got == want
    assert all(n <= bound + 1 for n in per_device_kind.values())


def test_a_scan_of_50k_flows_is_a_bounded_report_with_the_flows_totals() -> None:
    """16 cameras each SYN-scan outside addresses on varying ports (bench/make_flood.py)."""
    frames = flood(50_000, 0x0A140001 + np.arange(16, dtype=np.uint64), np.random.default_rng(3))
    ts = 1.7e9 + np.arange(frames.shape[0]) * 1e-4
    pipe = Pipeline(default_policy(), load_catalog())
    for start in range(0, frames.shape[0], 4096):
        chunk = frames[start : start + 4096]
        pipe.process(batch_of([row.tobytes() for row in chunk], list(ts[start : start + 4096])))
    pipe.finish()
    found = pipe.findings.findings()
    per_device_kind = Counter((f.device, f.kind) for f in found)
    assert max(per_device_kind.values()) == 256 + 1  # a random port can be a vendor's
    assert len(found) <= 16 * len(FindingKind) * (256 + 1)
    assert sum(f.flows for f in found) == pipe.flow_count == 50_000
    assert sum(f.packets for f in found) == 50_000
    assert sum(f.bytes for f in found) == 50_000 * 60
    summaries = [f for f in found if f.is_summary]
    assert len(summaries) == 16 and all(f.kind == FindingKind.EGRESS for f in summaries)
    result = AuditResult("s", [], pipe.packets, pipe.bytes, pipe.flow_count, [], found, [])
    assert len(json.dumps(report_dict(result))) < 5_000_000


def test_rows_after_a_clear_start_afresh() -> None:
    """Live clears the book every second; a flood's rows must not find stale keys (the
    sensor died with a KeyError when the packed index outlived a clear)."""
    book = FindingBook()
    rows = {
        "peers": np.asarray([3325256711], dtype=np.uint64),  # 198.51.100.7
        "ports": np.asarray([443]),
        "first_ts": np.asarray([1.0]),
        "last_ts": np.asarray([2.0]),
        "packets": np.asarray([1]),
        "sizes": np.asarray([60]),
        "answered": np.asarray([False]),
    }
    for _ in range(2):
        book.add_rows(device=CAM, kind=FindingKind.EGRESS, describe=lambda i: finding(), **rows)
        (f,) = book.findings()
        assert f.flows == 1
        book.clear()


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(5)))
def test_a_finding_reads_the_same_whatever_order_its_flows_end_in(order: list[int]) -> None:
    """Partitions of replay --jobs end flows in another order than one process does."""
    flows = [
        finding(first=300.0, name="late.example", uid="F5"),
        finding(first=100.0, uid="F1"),  # the earliest flow has no name
        finding(first=200.0, name="early.example", uid="F3"),
        finding(first=100.0, uid="F2", packets=9),  # the same moment: ranked by content
        finding(first=150.0, answered=True, uid="F4"),
    ]
    flows[2].ja4 = "t13d1516h2_8daaf6152771_e5627efa2ab1"
    flows[0].ja4 = "t13d1715h2_5b57614c22b0_3d5424432f57"
    book = FindingBook()
    for i in order:
        book.add(flows[i])
    (f,) = book.findings()
    assert f.peer_name == "early.example"  # the earliest flow that had a name
    assert f.ja4 == flows[2].ja4  # the earliest flow that showed a ClientHello
    assert f.flow_uid == "F1"  # (100.0, ..., 3 packets) ranks before (100.0, ..., 9)
    assert (f.flows, f.first_ts, f.answered) == (5, 100.0, True)


def _partitioned(flows: list[Finding], bound: int) -> FindingBook:
    """``flows`` ended one per batch, flow i in partition i % 2, merged."""
    from monitor.classify.finding_log import PartitionFindings, merge_findings

    parts = [PartitionFindings(max_findings=bound), PartitionFindings(max_findings=bound)]
    for batch, f in enumerate(flows):
        part = parts[batch % 2]
        part.batch = batch
        part.add(f)
    return merge_findings(FindingBook(max_findings=bound), parts)


@settings(max_examples=150, deadline=None)
@given(st.permutations(range(5)), st.lists(st.integers(0, 1), min_size=5, max_size=5))
def test_names_and_fingerprints_merge_from_the_flow_that_showed_them_first(
    order: list[int], owner: list[int]
) -> None:
    """A partition's finding is aggregated over its flows: its first packet time is its
    earliest flow's, its name and fingerprint those of its earliest flow that showed one.
    The merge must rank each by the flow it came from (zeek_tls13-ech.pcap: a finding of
    three flows, the earliest without a ClientHello, took the later flow's JA3)."""
    from monitor.classify.finding_log import PartitionFindings, merge_findings

    flows = [
        finding(first=300.0, name="late.example", uid="F5"),
        finding(first=100.0, uid="F1"),  # the earliest flow: no name, no ClientHello
        finding(first=200.0, name="early.example", uid="F3"),
        finding(first=100.0, uid="F2", packets=9),
        finding(first=150.0, answered=True, uid="F4"),
    ]
    flows[2].ja3, flows[2].ja4 = "2fcbf8655473005933c5869b2b5d8044", "t13d1517h2_a_b"
    flows[0].ja3, flows[0].ja4 = "fa58f5ffd45a2d590a1677134966dc64", "t13d1517h2_a_b"
    direct = FindingBook()
    parts = [PartitionFindings(), PartitionFindings()]
    for batch, i in enumerate(order):  # flows end in this order, flow i in owner[i]
        direct.add(flows[i])
        parts[owner[i]].batch = batch
        parts[owner[i]].add(flows[i])
    merged = merge_findings(FindingBook(), parts)
    assert report_dict_of(merged) == report_dict_of(direct)
    (f,) = merged.findings()
    assert (f.ja3, f.peer_name, f.flow_uid) == (flows[2].ja3, "early.example", "F1")


def test_partitions_within_the_bounds_merge_into_the_book_one_process_fills() -> None:
    flows = [finding(peer=f"198.51.100.{i % 7}", first=float(i), uid=f"F{i}") for i in range(40)]
    direct = FindingBook(max_findings=8)
    for f in flows:
        direct.add(f)
    assert report_dict_of(_partitioned(flows, 8)) == report_dict_of(direct)


def test_partitions_beyond_the_bounds_keep_the_runs_own_findings_and_totals() -> None:
    """The bound applies to the whole run: the keys one process itemises, the rest folded;
    a key one partition had to fold keeps those flows in the summary (see finding_log)."""
    flows = [finding(peer=f"198.51.100.{i % 7}", first=float(i), uid=f"F{i}") for i in range(40)]
    direct = FindingBook(max_findings=4)
    for f in flows:
        direct.add(f)
    merged = _partitioned(flows, 4).findings()
    own = sorted(f.peer for f in merged if not f.is_summary)
    assert own == sorted(f.peer for f in direct.findings() if not f.is_summary)
    assert len(own) == 4 and sum(f.is_summary for f in merged) == 1
    assert sum(f.flows for f in merged) == 40 and sum(f.packets for f in merged) == 120
    (summary,) = (f for f in merged if f.is_summary)
    # partition 0 folds .1 .3 .5 (it itemised .0 .2 .4 .6 first), partition 1 folds
    # .2 .4 .6, the merge folds .4 .5 .6: the summary has seen six peers
    assert summary.peers == 6


def report_dict_of(book: FindingBook) -> str:
    result = AuditResult(
        site="s", inputs=[], packets=0, bytes=0, flow_count=0, devices=[], flows=[],
        findings=book.findings(),
    )  # fmt: skip
    return json.dumps(report_dict(result)["findings"], sort_keys=True)


def test_light_rows_of_a_partition_merge_into_the_same_book() -> None:
    """Light flows (payload-free TCP) reach the book as rows: a partition's book of them,
    merged, makes the findings one book makes of them."""
    from monitor.classify.finding_log import PartitionFindings, merge_findings

    rng = np.random.default_rng(5)
    n = 400
    peers = (0xC6336400 + rng.integers(0, 40, n)).astype(np.uint64)
    ports = rng.choice(np.array([23, 80, 443, 8080]), n).astype(np.int64)
    first = np.round(100.0 + rng.random(n) * 50, 3)
    rows = {
        "device": CAM, "kind": FindingKind.EGRESS, "peers": peers, "ports": ports,
        "first_ts": first, "last_ts": first + 1.0, "packets": np.full(n, 2, np.int64),
        "sizes": np.full(n, 120, np.int64), "answered": rng.random(n) < 0.2,
    }  # fmt: skip

    def describe(i: int) -> Finding:
        peer = v4_text(int(peers[i]))
        return finding(peer, int(ports[i]), first=float(first[i]), packets=2, size=120,
                       uid=f"F{i}")  # fmt: skip

    direct = FindingBook(max_findings=30)
    direct.add_rows(**rows, describe=describe)
    part = PartitionFindings(max_findings=30)
    part.add_rows(**rows, describe=describe)
    merged = merge_findings(FindingBook(max_findings=30), [part])
    assert report_dict_of(merged) == report_dict_of(direct)
    assert sum(f.flows for f in merged.findings()) == n
    assert sum(1 for f in merged.findings() if not f.is_summary) == 30  # the bound held
