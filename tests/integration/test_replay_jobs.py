"""``replay --jobs N``: flows partitioned by flow hash over N processes, one report.

The report of every partitioned run must equal the one-process report, flow ids aside
(each partition numbers its own flows): totals, devices and their facts, findings and
their names, silent hosts, coverage, mirror sessions. Checked on the samples, on every
real capture of ../shared/pcaps-real, and through the command line with its outputs.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from monitor.classify.catalog import load_catalog
from monitor.config import Policy, default_policy, load_policy
from monitor.model import FindingKind, MonitorError
from monitor.partition import Partition
from monitor.pipeline import PipelineSettings
from monitor.replay import run_replay, write_evidence
from monitor.replay_jobs import partition_specs, run_jobs
from monitor.replay_partition import run_partition
from monitor.report.json_report import report_dict
from tests.cli_run import run_cli
from tests.requirements import require_shared, shared_names

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "pcaps"
SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*.pcap*"))
FLOW_ID = re.compile(r"F\d{8,}")
# A concatenation of ~50 unrelated captures whose time runs backwards between them: two
# order-dependent details may differ there (docs/scale-out.md, "The same report").
BACKWARDS_IN_TIME = "bench_merged_ndpi-nfstream-tests_ethernet.pcap"


def _comparable(result: Any) -> str:
    report = report_dict(result)
    report.pop("provenance", None)
    return FLOW_ID.sub("F", json.dumps(report, sort_keys=True, indent=1))


def _reports(paths: list[str], policy: Policy, jobs: int) -> tuple[str, str]:
    catalog = load_catalog()
    settings = PipelineSettings(keep_records=True)
    one = run_replay(paths, policy, catalog, settings, hash_inputs=False).result
    specs = partition_specs(paths, policy, settings, jobs)
    many, _ = run_jobs(specs, catalog, hash_inputs=False)
    return _comparable(one), _comparable(many.result)


@pytest.mark.parametrize("name", SAMPLE_FILES)
@pytest.mark.parametrize("jobs", [2, 3])
def test_every_sample_gives_the_same_report_with_several_jobs(name: str, jobs: int) -> None:
    policy = load_policy(SAMPLES / "site.yaml") if (SAMPLES / "site.yaml").exists() else None
    one, many = _reports([str(SAMPLES / name)], policy or default_policy(), jobs)
    assert many == one


@pytest.mark.parametrize("name", shared_names("pcaps-real", "*.pcap*"))
def test_every_real_capture_gives_the_same_report_with_two_jobs(name: str) -> None:
    path = require_shared(f"pcaps-real/{name}")
    one, many = _reports([str(path)], default_policy(), 2)
    if name == BACKWARDS_IN_TIME:
        _assert_same_but_order_details(json.loads(one), json.loads(many))
    else:
        assert many == one


def _assert_same_but_order_details(one: dict[str, Any], many: dict[str, Any]) -> None:
    """Where time runs backwards: the same report but for the documented details (which of
    them show depends on the run's flow-key seed): when a device's TLS fingerprint changed,
    the name a finding gives a peer, and which findings a bound folded into a summary;
    the flows, packets and bytes of every device's findings of every kind are the same."""
    totals = []
    for report in (one, many):
        for device in report["devices"]:
            for conflict in device.get("conflicts", []):
                if conflict["fact"] == "tls_client_fingerprint":
                    conflict.pop("source")
        per_kind: Counter[tuple[str, str, str]] = Counter()
        for f in report.pop("findings"):
            for what in ("flows", "packets", "bytes"):
                per_kind[(f["device"], f["kind"], what)] += f[what]
        totals.append(per_kind)
    assert many == one
    assert totals[1] == totals[0]


def test_all_samples_at_once_give_the_same_report() -> None:
    paths = [str(SAMPLES / n) for n in SAMPLE_FILES]
    one, many = _reports(paths, default_policy(), 2)
    assert many == one


def test_each_flow_is_accounted_by_exactly_one_partition() -> None:
    paths = [str(SAMPLES / "demo_day.pcap.gz")]
    specs = partition_specs(paths, default_policy(), PipelineSettings(keep_records=True), 3)
    parts = [run_partition(s) for s in specs]
    uids = [r.uid for p in parts for r in p.records]
    assert len(uids) == len(set(uids))  # flow ids stay unique across partitions
    keys = [
        (r.proto, *sorted([(r.orig_addr, r.orig_port), (r.resp_addr, r.resp_port)]))
        for p in parts
        for r in p.records
    ]
    assert len(keys) == len(set(keys))
    assert sum(p.packets for p in parts) == 2227  # capinfos: 2,227 packets
    assert all(p.packets > 0 for p in parts)  # the flows do spread


def test_partitions_of_one_are_the_whole_capture() -> None:
    paths = [str(SAMPLES / "demo_day.pcap.gz")]
    (spec,) = partition_specs(paths, default_policy(), PipelineSettings(), 1)
    assert spec.partition == Partition(0, 1)
    assert run_partition(spec).packets == 2227


def test_the_command_line_writes_the_same_outputs_with_two_jobs(tmp_path: Path) -> None:
    demo = str(SAMPLES / "demo_day.pcap.gz")
    outputs = {}
    for jobs in ("1", "2"):
        out = tmp_path / jobs
        out.mkdir()
        proc = run_cli(
            "replay", demo, "--jobs", jobs, "--report", str(out / "r.json"),
            "--evidence", str(out / "e.pcap"), "--eve", str(out / "eve.json"),
            "--flows", str(out / "flows.csv"), "--metrics-out", str(out / "m.txt"), "-q",
        )  # fmt: skip
        assert proc.returncode == 1, proc.stderr  # demo_day has findings
        outputs[jobs] = out
    one, two = (json.loads((outputs[j] / "r.json").read_text()) for j in ("1", "2"))
    sha = [r["provenance"]["inputs"][0]["sha256"] for r in (one, two)]
    assert sha[0] == sha[1] and len(sha[0]) == 64  # hashed by the parent meanwhile
    evidence = [r["provenance"]["evidence"] for r in (one, two)]
    assert evidence[0]["packets"] == evidence[1]["packets"] > 0
    assert evidence[0]["sha256"] == evidence[1]["sha256"]  # the very same evidence pcap
    for name in ("eve.json", "flows.csv"):
        lines = [
            sorted(FLOW_ID.sub("F", (outputs[j] / name).read_text()).splitlines()) for j in "12"
        ]
        lines = [[re.sub(r'"flow_id":\s*\d+', "", x) for x in part] for part in lines]
        assert lines[0] == lines[1], name
    # every series but cctv_devices, whose roles over time come from each partition's
    # facts (docs/scale-out.md); the last sample has them all
    metrics = [
        [x for x in (outputs[j] / "m.txt").read_text().splitlines() if "cctv_devices{" not in x]
        for j in "12"
    ]
    assert metrics[0] == metrics[1]
    assert any(x.startswith("cctv_flows_total{") for x in metrics[0])


def test_jobs_must_be_a_positive_number() -> None:
    proc = run_cli("replay", str(SAMPLES / "egress.pcap"), "--jobs", "0")
    assert proc.returncode == 2
    assert "--jobs" in proc.stderr and "at least 1" in proc.stderr


def _die(spec: object) -> None:
    os._exit(9)  # as the out-of-memory killer would end it


def test_a_worker_that_dies_fails_the_run_with_a_clear_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import monitor.replay_jobs as jobs

    monkeypatch.setattr(jobs, "run_partition", _die)
    specs = partition_specs([str(SAMPLES / "egress.pcap")], default_policy(), PipelineSettings(), 2)
    with pytest.raises(MonitorError, match="worker process died"):
        run_jobs(specs, load_catalog(), hash_inputs=True)  # and does not hang


def test_a_spoofed_flood_beyond_the_limits_stays_bounded_and_consistent(tmp_path: Path) -> None:
    """3,000 spoofed closed-network sources, a device limit of 100: each partition has its
    own limit, the merge keeps the run's (docs/scale-out.md). Totals and the overflow are
    the same; which hosts are itemised may differ, never how many."""
    import numpy as np

    from bench.make_flood import flood, write_pcap

    sources = 0x0A140000 + 256 + np.arange(3000, dtype=np.uint64)  # 10.20.1.0 on
    capture = tmp_path / "spoofed.pcap"
    write_pcap(capture, flood(20_000, sources, np.random.default_rng(7)), 1.7e9, 60.0)
    site = tmp_path / "site.yaml"
    site.write_text(
        "site: flood\nclosed_networks: [10.20.0.0/16]\n"
        "limits: {devices: 100, findings_per_device: 8, findings_per_kind: 200}\n"
    )
    policy = load_policy(site)
    catalog = load_catalog()
    one = run_replay([str(capture)], policy, catalog, hash_inputs=False).result
    for jobs in (2, 3):
        specs = partition_specs([str(capture)], policy, PipelineSettings(), jobs)
        run, parts = run_jobs(specs, catalog)
        many = run.result
        for part in parts:  # each partition's findings are bounded as one book is
            assert len(part.findings) <= len(FindingKind) * (200 + 101)
        assert (many.packets, many.flow_count, many.verdict) == (
            one.packets,
            one.flow_count,
            one.verdict,
        )
        assert len(many.devices) == len(one.devices) == 101  # the limit, and "other"
        assert many.devices_overflow == one.devices_overflow > 2800  # every host beyond 100
        listed = {d.ip for d in many.devices}
        assert all(
            f.device in listed for f in many.findings
        )  # no finding names a host the report folded into other
        per_device_kind = Counter((f.device, f.kind) for f in many.findings)
        assert max(per_device_kind.values()) <= 8 + 1
        own_keys = Counter(f.kind for f in many.findings if not f.is_summary)
        assert own_keys == Counter(f.kind for f in one.findings if not f.is_summary)
        assert max(own_keys.values()) == 200  # findings_per_kind, over the whole run
        assert sum(f.flows for f in many.findings) == sum(f.flows for f in one.findings) == 20_000
        assert len(many.findings) <= len(FindingKind) * (200 + 101)


def test_progress_counts_every_packet_read() -> None:
    heard: list[tuple[int, int, float]] = []
    paths = [str(SAMPLES / "demo_day.pcap.gz")]
    specs = partition_specs(paths, default_policy(), PipelineSettings(), 2)
    run, _ = run_jobs(specs, load_catalog(), progress=lambda p, b, s: heard.append((p, b, s)))
    assert heard and heard[-1][:2] == (run.result.packets, run.result.bytes) == (2227, 1751906)
    assert [h[0] for h in heard] == sorted(h[0] for h in heard)  # it only grows


def _mirrored_capture(path: Path) -> None:
    """demo_day's frames, some through VXLAN and ERSPAN mirrors, plus frames behind nine
    VLAN tags (one too many: undecodable)."""
    import gzip

    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Dot1Q, Ether
    from scapy.utils import PcapReader, wrpcap

    from tests.tunnelbuild import wrap

    with gzip.open(SAMPLES / "demo_day.pcap.gz") as fp:
        packets = list(PcapReader(fp))
    out = []
    for i, p in enumerate(packets):
        frame = bytes(p)
        kind = ("vxlan", "erspan2", None, None)[i % 4]
        q = Ether(wrap(frame, kind)) if kind else p.copy()
        q.time = p.time
        out.append(q)
        if i % 300 == 150:  # a scan from outside of hosts that never answer: silent hosts
            syn = Ether() / IP(src="198.51.100.66", dst=f"10.20.5.{i // 300}") / TCP(dport=80)
            syn.time = p.time
            out.append(syn)
        if i % 500 == 0:
            deep = Ether() / Dot1Q(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) / Dot1Q(vlan=4)
            deep = deep / Dot1Q(vlan=5) / Dot1Q(vlan=6) / Dot1Q(vlan=7) / Dot1Q(vlan=8)
            deep = deep / Dot1Q(vlan=9) / IP(src="10.20.1.11", dst="198.51.100.9") / TCP()
            deep.time = p.time
            out.append(deep)
    wrpcap(str(path), out)


def test_mirror_sessions_decode_errors_and_metric_samples_add_up(tmp_path: Path) -> None:
    capture = tmp_path / "mirrored.pcap"
    _mirrored_capture(capture)
    catalog = load_catalog()
    settings = PipelineSettings(keep_records=True, snapshot_seconds=30.0, keep_names=True)
    policy = default_policy()
    one = run_replay([str(capture)], policy, catalog, settings, hash_inputs=False).result
    assert {s.kind for s in one.mirror_sessions} == {"vxlan", "erspan2"}
    errors = {layer: n for layer, n in one.decode_errors.items() if n}
    assert errors == {"vlan": 5} and one.inputs[0].undecodable == 5
    single = run_replay([str(capture)], policy, catalog, settings, hash_inputs=False)
    assert len(one.silent_hosts) > 3
    specs = partition_specs([str(capture)], policy, settings, 3)
    merged = run_jobs(specs, catalog, hash_inputs=False)[0]
    many = merged.result
    assert _comparable(many) == _comparable(one)
    assert (many.readable, merged.linktypes) == (True, single.linktypes)
    names = [sorted(FLOW_ID.sub("F", repr(n)) for n in run.names) for run in (one, many)]
    assert names[0] == names[1] and names[0]
    rows = [
        sorted(FLOW_ID.sub("F", repr(replace(r, uid=""))) for r in run.flows) for run in (one, many)
    ]
    assert rows[0] == rows[1] and len(rows[0]) == one.flow_count
    for run, name in ((single, "one.pcap"), (merged, "many.pcap")):
        assert write_evidence(run, [str(capture)], str(tmp_path / name)) > 0
    assert (tmp_path / "one.pcap").read_bytes() == (tmp_path / "many.pcap").read_bytes()
    assert len(many.snapshots) == len(one.snapshots) > 5
    for a, b in zip(one.snapshots, many.snapshots, strict=True):
        a_counters, b_counters = a.counters, b.counters  # type: ignore[attr-defined]
        assert b.ts == a.ts  # type: ignore[attr-defined]
        assert b_counters.decode_errors == a_counters.decode_errors
        for name in ("packets", "bytes", "flows", "findings"):
            _same_but_silent_moves(getattr(a_counters, name), getattr(b_counters, name), name)
        assert b_counters.device_last_seen == a_counters.device_last_seen


def _same_but_silent_moves(one: Counter[Any], many: Counter[Any], name: str) -> None:
    """Equal, but for counts moved between ``silent`` and a host: a flow in which a host
    only received is counted under ``silent`` until the host is known, and a partition
    may not know yet what another partition's flows taught (docs/scale-out.md)."""
    diff = {k: one[k] - many[k] for k in one.keys() | many.keys() if one[k] != many[k]}
    assert all(k[0] == "silent" or k[0][:1].isdigit() for k in diff), (name, diff)
    moved: Counter[Any] = Counter()
    for key, n in diff.items():
        moved[key[1:]] += n
    assert not +moved and not -moved, (name, diff)


def test_more_jobs_than_cpus_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Partitions beyond the CPUs only take turns: the user hears it, and still gets the
    same report."""
    import monitor.replay_jobs as replay_jobs

    monkeypatch.setattr(replay_jobs.os, "sched_getaffinity", lambda pid: {0})
    paths = [str(SAMPLES / "demo_day.pcap.gz")]
    specs = partition_specs(paths, default_policy(), PipelineSettings(), 2)
    with caplog.at_level("WARNING", logger="monitor.replay_jobs"):
        run, _ = run_jobs(specs, load_catalog(), hash_inputs=False)
    assert run.result.packets == 2227
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned == [
        "--jobs 2 on 1 CPU: the partitions take turns on them, and each reads every input, "
        "so this replay is slower than with --jobs 1 (docs/scale-out.md)"
    ]
    caplog.clear()
    monkeypatch.setattr(replay_jobs.os, "sched_getaffinity", lambda pid: {0, 1})
    with caplog.at_level("WARNING", logger="monitor.replay_jobs"):
        run_jobs(specs, load_catalog(), hash_inputs=False)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
