"""Light flows give the FlowState path's answers: the oracle is a replay without them.

Every sample capture (under its policy) and the real captures (under the default policy)
are replayed twice, with ``PipelineSettings(light_flows=False)`` (every flow a FlowState,
the rules of classify/verdict.py one flow at a time) and with light flows (payload-free
TCP flows as numpy rows, promoted on payload). Counters, findings, devices and flow
records must be equal; only flow ids may differ (they are numbered in another order).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from monitor.classify.catalog import load_catalog
from monitor.config import Policy, default_policy, load_policy
from monitor.pipeline import Pipeline, PipelineSettings
from monitor.replay import run_replay
from tests.framebuild import batch_of
from tests.requirements import SHARED, require_shared, shared_names

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
SAMPLES = sorted(p.name for p in PCAPS.glob("*.pcap*"))
REAL = [n for n in shared_names("pcaps-real", "*.pcap*") if not n.startswith("bench_merged")]
COUNTERS = ("packets", "bytes", "flows", "findings", "endpoint_contacts", "device_last_seen",
            "decode_errors")  # fmt: skip


def outcome(paths: list[str], policy: Policy, light: bool) -> dict[str, Any]:
    settings = PipelineSettings(keep_records=True, light_flows=light)
    run = run_replay(paths, policy, load_catalog(), settings)
    counters = run.pipeline.snapshot().counters
    result = run.result

    def without_uid(obj: object) -> dict[str, Any]:
        d = dataclasses.asdict(obj)  # type: ignore[call-overload]
        d.pop("uid", None)
        d.pop("flow_uid", None)
        return d

    return {
        "counters": {name: dict(getattr(counters, name)) for name in COUNTERS},
        "findings": sorted(map(without_uid, result.findings), key=repr),
        "devices": [dataclasses.asdict(d) for d in result.devices],
        "records": sorted(map(without_uid, result.flows), key=repr),
        "totals": (result.packets, result.bytes, result.flow_count),
    }


def assert_same(paths: list[str], policy: Policy) -> None:
    heavy, light = outcome(paths, policy, False), outcome(paths, policy, True)
    for part in heavy:
        assert light[part] == heavy[part], part


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_give_the_same_answers_with_light_flows(name: str) -> None:
    assert_same([str(PCAPS / name)], load_policy(str(PCAPS / "site.yaml")))


@pytest.mark.realpcaps
@pytest.mark.parametrize("name", REAL)
def test_real_captures_give_the_same_answers_with_light_flows(name: str) -> None:
    path = require_shared(SHARED / "pcaps-real" / name)
    assert_same([str(path)], default_policy())


def _run(frames: np.ndarray, light: bool, policy: Policy | None = None) -> Pipeline:
    pipe = Pipeline(policy or default_policy(), load_catalog(),
                    PipelineSettings(keep_records=False, light_flows=light))  # fmt: skip
    ts = 1.7e9 + np.arange(frames.shape[0]) * 1e-3
    for start in range(0, frames.shape[0], 4096):
        rows = frames[start : start + 4096]
        pipe.process(batch_of([r.tobytes() for r in rows], list(ts[start : start + 4096])))
    pipe.finish()
    return pipe


def test_a_scan_counts_and_finds_the_same_as_the_flowstate_path() -> None:
    from bench.make_flood import flood  # here: make mutation runs without bench/

    frames = flood(30_000, 0x0A140001 + np.arange(16, dtype=np.uint64), np.random.default_rng(5))
    heavy, light = _run(frames, False), _run(frames, True)
    for name in COUNTERS:
        assert getattr(light.counters, name) == getattr(heavy.counters, name), name
    assert light.flow_count == heavy.flow_count == 30_000

    def per_device_kind(pipe: Pipeline) -> dict[tuple[str, str], tuple[int, int, int]]:
        out: dict[tuple[str, str], tuple[int, int, int]] = {}
        for f in pipe.findings.findings():
            flows, packets, size = out.get((f.device, f.kind.value), (0, 0, 0))
            out[(f.device, f.kind.value)] = (flows + f.flows, packets + f.packets, size + f.bytes)
        return out

    assert per_device_kind(light) == per_device_kind(heavy)
    assert len(light.findings) == len(heavy.findings)


def _tcp(src: str, dst: str, sport: int, dport: int, flags: str, payload: bytes = b"") -> bytes:
    eth = Ether(src="44:19:b6:00:00:01", dst="00:11:22:33:44:55")
    return bytes(eth / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags) / payload)


def test_a_light_flow_that_shows_payload_is_judged_by_it() -> None:
    """SYN, SYN-ACK, ACK are a light flow; the HTTP request names a vendor cloud host."""
    cam, cloud = "10.20.1.11", "198.51.100.80"
    request = b"GET / HTTP/1.1\r\nHost: www.easy4ipcloud.com\r\n\r\n"
    frames = [
        _tcp(cam, cloud, 50000, 80, "S"),
        _tcp(cloud, cam, 80, 50000, "SA"),
        _tcp(cam, cloud, 50000, 80, "A"),
    ]
    later = [_tcp(cam, cloud, 50000, 80, "PA", request), _tcp(cloud, cam, 80, 50000, "A")]
    for light in (True, False):
        pipe = Pipeline(default_policy(), load_catalog(), PipelineSettings(light_flows=light))
        pipe.process(batch_of(frames, [1.7e9, 1.7e9 + 0.01, 1.7e9 + 0.02]))
        assert len(pipe.table.light) == (1 if light else 0)
        pipe.process(batch_of(later, [1.7e9 + 0.5, 1.7e9 + 0.51]))
        pipe.finish()
        (finding,) = pipe.findings.findings()
        assert (finding.kind.value, finding.vendor, finding.packets) == ("vendor_cloud", "dahua", 5)


def test_a_settled_light_flow_that_shows_payload_later_keeps_its_finding() -> None:
    """Found by replaying every real capture at once: a flow settled as light (egress,
    2 s without payload) that then carries payload is promoted settled, and the full
    rules look at it again (the verdict stays, no finding is raised twice)."""
    cam, out = "10.20.1.11", "198.51.100.9"
    request = b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"
    for light in (True, False):
        pipe = Pipeline(default_policy(), load_catalog(), PipelineSettings(light_flows=light))
        pipe.process(batch_of([_tcp(cam, out, 50000, 8443, "S")], [1.7e9]))
        pipe.process(batch_of([_tcp(cam, out, 50000, 8443, "A")], [1.7e9 + 3]))  # settles
        pipe.process(batch_of([_tcp(cam, out, 50000, 8443, "PA", request)], [1.7e9 + 4]))
        pipe.finish()
        (finding,) = pipe.findings.findings()
        assert (finding.kind.value, finding.packets, finding.flows) == ("egress", 3, 1), light


def test_a_full_table_evicts_one_light_row_for_a_new_full_flow() -> None:
    """Light rows fill a table of 10; a flow with payload needs one place, and the least
    recently active row makes it (heavy eviction takes 1 % or one flow)."""
    from monitor.flow.table import FlowSettings

    settings = PipelineSettings(flows=FlowSettings(max_flows=10), light_flows=True)
    pipe = Pipeline(default_policy(), load_catalog(), settings)
    syns = [_tcp("10.20.1.11", f"198.51.100.{i}", 50000 + i, 8443, "S") for i in range(10)]
    pipe.process(batch_of(syns, [1.7e9 + i for i in range(10)]))
    assert len(pipe.table.light) == 10 and pipe.table.evictions == 0
    data = _tcp("10.20.1.11", "203.0.113.9", 50100, 8443, "PA", b"hello")
    pipe.process(batch_of([data], [1.7e9 + 20]))
    assert pipe.table.evictions == 1
    assert (len(pipe.table.light), len(pipe.table.flows)) == (9, 1)
    assert pipe.flow_count == 11


def test_the_findings_a_live_sensor_hears_are_the_flowstate_paths_word_for_word() -> None:
    """Live, every flagged light flow's finding goes to the alert log as it settles; it is
    worded from the row's columns (light_findings.py), which must say what make_finding
    says of the row's FlowState: a scan out, answered and not, and probes in."""
    from bench.make_flood import flood

    rng = np.random.default_rng(7)
    out = flood(3_000, 0x0A140001 + np.arange(4, dtype=np.uint64), rng)
    frames = [r.tobytes() for r in out]
    frames += [_tcp("203.0.113.9", "10.20.1.11", 40_000 + i, 22, "S") for i in range(40)]
    frames += [_tcp("10.20.1.12", "198.51.100.3", 50_000, 443, f) for f in ("S", "SA")]
    heard = {}
    for light in (False, True):
        got: list[Any] = []
        pipe = Pipeline(default_policy(), load_catalog(),
                        PipelineSettings(keep_records=False, light_flows=light),
                        on_finding=got.append)  # fmt: skip
        ts = 1.7e9 + np.arange(len(frames)) * 1e-3
        for start in range(0, len(frames), 1024):
            pipe.process(batch_of(frames[start : start + 1024], list(ts[start : start + 1024])))
        pipe.finish()
        heard[light] = sorted(
            (dataclasses.replace(f, flow_uid="", flow_ref=None) for f in got), key=repr
        )
    assert heard[True] == heard[False]
    kinds = {f.kind.value for f in heard[True]}
    assert {"egress", "inbound"} <= kinds and len(heard[True]) > 3_000


def test_a_light_finding_is_make_findings_of_the_rows_flowstate() -> None:
    from monitor.classify.evidence import make_finding
    from monitor.light_findings import light_finding, light_findings
    from monitor.model import FindingKind

    frames = [_tcp("10.20.1.11", f"198.51.100.{i}", 50_000 + i, 443, "S") for i in range(1, 9)]
    frames += [_tcp(f"198.51.100.{i}", "10.20.1.11", 443, 50_000 + i, "SA") for i in (1, 2)]
    frames += [_tcp(f"198.51.100.{i}", "10.20.1.11", 443, 50_000 + i, "R") for i in (3,)]
    frames += [_tcp("203.0.113.9", "10.20.1.11", 40_001, 22, "S")]
    pipe = Pipeline(default_policy(), load_catalog(), PipelineSettings(keep_records=False))
    pipe.process(batch_of(frames, [1.7e9 + i * 1e-3 for i in range(len(frames))]))
    pipe.tick(1.7e9 + 60)  # settled
    light = pipe.table.light
    slots = light.live_slots()
    assert slots.size >= 8  # the reset one may have ended already
    answered = set()
    for slot in slots.tolist():
        kind = FindingKind.INBOUND if light["resp_port"][slot] == 22 else FindingKind.EGRESS
        want = make_finding(pipe.light_path.flowstate(slot), kind, None, None)
        assert light_finding(light, slot, None, kind) == want
        other = light_finding(light, slot, "other", kind)
        assert (other.device, other.evidence) == ("other", want.evidence)
        bare = light_finding(light, slot, None, kind, worded=False)
        assert bare == dataclasses.replace(want, evidence="")
        answered.add((kind, want.answered))
    assert answered == {(FindingKind.EGRESS, True), (FindingKind.EGRESS, False),
                        (FindingKind.INBOUND, False)}  # fmt: skip
    kinds = [FindingKind.INBOUND if light["resp_port"][s] == 22 else FindingKind.EGRESS
             for s in slots.tolist()]  # fmt: skip
    many = light_findings(light, slots, [None] * slots.size, kinds)
    assert many == [light_finding(light, s, None, k) for s, k in zip(slots, kinds, strict=True)]


def test_one_rows_answered_is_the_columns_answered_for_every_reply() -> None:
    """light_finding reads one row without numpy temporaries (LightFlows.answered_one):
    its 'answered' must be LightFlows.answered's for any reply (none, a reset, a reset and
    more, ICMP errors)."""
    from monitor.flow.light import TCP_RST, TCP_SYN
    from monitor.light_findings import light_finding
    from monitor.model import FindingKind

    pipe = Pipeline(default_policy(), load_catalog(), PipelineSettings(keep_records=False))
    pipe.process(batch_of([_tcp("10.20.1.11", "198.51.100.1", 50_000, 443, "S")], [1.7e9]))
    light = pipe.table.light
    (slot,) = light.live_slots().tolist()
    rows = np.asarray([slot], dtype=np.int64)
    seen = set()
    for flags in (0, TCP_RST, TCP_RST | TCP_SYN, TCP_SYN, 0x10):
        for packets in range(4):
            for errors in range(min(packets, 2) + 1):
                light["resp_flags"][slot], light["resp_pkts"][slot] = flags, packets
                light["resp_errors"][slot] = errors
                want = bool(light.answered(rows)[0])
                got = light_finding(light, slot, None, FindingKind.EGRESS, worded=False)
                assert got.answered == light.answered_one(slot) == want, (flags, packets, errors)
                seen.add(want)
    assert seen == {True, False}
