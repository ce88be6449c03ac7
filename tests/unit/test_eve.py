"""EVE lines: Suricata's timestamp form, a pinned signature table, alerts for one-flow,
summary and ICMP findings under Suricata's schema, and the light rows' flow events held
to the FlowState ones (the vectorised twin)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import communityid
import jsonschema
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.classify.catalog import load_catalog
from monitor.classify.findings import FindingBook
from monitor.config import load_policy
from monitor.flow.community_id import make_flow_ref
from monitor.flow.light import LightFlows
from monitor.flow.state import FlowState
from monitor.model import EndReason, Finding, FindingKind
from monitor.pipeline import Pipeline, PipelineSettings
from monitor.replay import run_replay
from monitor.report.eve import SIGNATURES, alert_event, dumps, eve_time, eve_times
from monitor.report.eve_flows import flow_line, row_lines
from tests.framebuild import batch_of
from tests.requirements import require_shared

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
T0 = 1772438400.0  # 2026-03-02T08:00:00Z


def validator() -> jsonschema.protocols.Validator:
    """Suricata 7's EVE schema (../shared: GPL, not copied into the repository)."""
    schema = json.loads(require_shared("reference/eve/schema.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def assert_valid(event: dict[str, Any]) -> None:
    errors = [e.message for e in validator().iter_errors(json.loads(dumps(event)))]
    assert not errors, errors


def test_signature_ids_are_stable_and_one_per_kind() -> None:
    """SIEM rules key on them: changing one is a breaking change (docs/eve.md)."""
    assert {k.value: s.sid for k, s in SIGNATURES.items()} == {
        "egress": 9000001,
        "vendor_cloud": 9000002,
        "vendor_lookup": 9000003,
        "external_resolver": 9000004,
        "upnp_port_mapping": 9000005,
        "inbound": 9000006,
    }
    assert set(SIGNATURES) == set(FindingKind)
    assert all(s.severity in (1, 2, 3) for s in SIGNATURES.values())


def test_timestamps_in_suricatas_form() -> None:
    assert eve_time(T0 + 0.1) == "2026-03-02T08:00:00.100000+0000"
    assert eve_time(T0 + 59.9999996) == "2026-03-02T08:01:00.000000+0000"  # rounds to the us


@given(st.lists(st.floats(0, 4e9, allow_nan=False), max_size=20))
def test_vectorised_timestamps_equal_the_scalar_ones(ts: list[float]) -> None:
    assert eve_times(np.asarray(ts, dtype=np.float64)) == [eve_time(t) for t in ts]


def finding(peer: str, port: int, ts: float, **kw: Any) -> Finding:
    ref = make_flow_ref(6, "10.20.1.11", 40000 + port % 1000, peer, port, ts)
    base: dict[str, Any] = dict(
        kind=FindingKind.EGRESS, device="10.20.1.11", peer=peer, peer_port=port, proto="tcp",
        peer_name=None, vendor=None, endpoint=None, answered=False, first_ts=ts, last_ts=ts + 1,
        packets=1, bytes=60, evidence=f"10.20.1.11 to {peer} port {port}/tcp",
        flow_uid=f"F{int(ts) % 10**8:08d}", flow_ref=ref,
    )  # fmt: skip
    base.update(kw)
    return Finding(**base)


def test_a_findings_alert_names_its_flow_and_carries_its_fields() -> None:
    f = finding("198.51.100.7", 443, T0, peer_name="api.example.com", answered=True)
    event = alert_event(f, "hamburg-hansaplatz")
    assert_valid(event)
    ref = f.flow_ref
    assert ref is not None
    assert event["event_type"] == "alert" and event["host"] == "hamburg-hansaplatz"
    assert (event["src_ip"], event["src_port"], event["dest_ip"], event["dest_port"]) == (
        "10.20.1.11", 40443, "198.51.100.7", 443,
    )  # fmt: skip
    assert event["proto"] == "TCP" and event["flow_id"] == ref.flow_id
    want = communityid.CommunityID().calc(
        communityid.FlowTuple.make_tcp("10.20.1.11", "198.51.100.7", 40443, 443)
    )
    assert event["community_id"] == want == f.to_json()["community_id"]
    alert = event["alert"]
    assert (alert["signature_id"], alert["severity"], alert["action"]) == (9000001, 2, "allowed")
    meta = alert["metadata"]
    assert meta["kind"] == ["egress"] and meta["peer_name"] == ["api.example.com"]
    assert meta["answered"] == ["true"] and meta["flows"] == ["1"]
    assert meta["first_time"] == ["2026-03-02T08:00:00.000000+0000"]
    assert "vendor" not in meta, "nulls are left out (values are arrays of strings)"
    assert all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in meta.values())


def test_a_summary_alert_takes_its_first_flows_tuple_and_says_so() -> None:
    book = FindingBook(max_findings=1)
    book.add(finding("198.51.100.1", 23, T0))
    book.add(finding("198.51.100.3", 2323, T0 + 5))
    book.add(finding("198.51.100.2", 23, T0 + 2))  # the earliest of those that fold
    summary = next(f for f in book.findings() if f.is_summary)
    event = alert_event(summary, "s")
    assert_valid(event)
    assert (event["dest_ip"], event["dest_port"]) == ("198.51.100.2", 23)
    assert event["flow_id"] == make_flow_ref(6, "10.20.1.11", 40023, "198.51.100.2", 23,
                                             T0 + 2).flow_id  # fmt: skip
    meta = event["alert"]["metadata"]
    assert meta["record"] == ["summary"] and meta["five_tuple"] == ["first flow of the summary"]
    assert meta["peers"] == ["2"] and meta["sample_peers"] == ["198.51.100.3", "198.51.100.2"]
    assert meta["flow_uid"] == [summary.flow_uid]


def test_an_icmp_alert_has_type_and_code_instead_of_ports() -> None:
    ref = make_flow_ref(1, "10.20.1.11", 0, "192.0.2.1", 0, T0, icmp=(8, 0))
    f = finding("192.0.2.1", 0, T0, peer_port=None, proto="icmp", flow_ref=ref)
    event = alert_event(f, "s")
    assert_valid(event)
    assert "src_port" not in event and "dest_port" not in event
    assert (event["proto"], event["icmp_type"], event["icmp_code"]) == ("ICMP", 8, 0)
    assert event["community_id"] == "1:" + event["community_id"][2:] == communityid.CommunityID(
    ).calc(communityid.FlowTuple.make_icmp("10.20.1.11", "192.0.2.1", 8, 0))  # fmt: skip
    unknown = make_flow_ref(1, "10.20.1.11", 0, "192.0.2.1", 0, T0)  # header not captured
    assert unknown.community_id is None
    event = alert_event(finding("192.0.2.1", 0, T0, proto="icmp", flow_ref=unknown), "s")
    assert_valid(event)
    assert "community_id" not in event and "icmp_type" not in event


def test_application_objects_from_what_the_flow_showed() -> None:
    app = (("sni", "api.hik-connect.com", ""),)
    ref = make_flow_ref(6, "10.20.1.11", 50000, "198.51.100.7", 443, T0, app=app)
    f = finding("198.51.100.7", 443, T0, flow_ref=ref, ja3="a" * 32, ja4="t13d1516h2_x_y")
    event = alert_event(f, "s")
    assert_valid(event)
    assert event["app_proto"] == "tls"
    assert event["tls"] == {"sni": "api.hik-connect.com", "ja3": {"hash": "a" * 32},
                            "ja4": "t13d1516h2_x_y"}  # fmt: skip
    dns_ref = make_flow_ref(17, "10.20.1.11", 5353, "8.8.8.8", 53, T0,
                            app=(("dns_query", "ez.example", "28"),))  # fmt: skip
    lookup = finding("8.8.8.8", 53, T0, kind=FindingKind.EXTERNAL_RESOLVER, proto="udp",
                     query_name="ez.example", flow_ref=dns_ref)  # fmt: skip
    event = alert_event(lookup, "s")
    assert_valid(event)
    assert event["app_proto"] == "dns"
    assert event["dns"] == {"query": [{"type": "query", "rrname": "ez.example", "rrtype": "AAAA"}]}
    seen = (("http_host", "pub.example", ""), ("user_agent", "XAPP", ""))
    http_ref = make_flow_ref(6, "10.20.1.15", 50000, "198.51.100.90", 80, T0, app=seen)
    event = alert_event(finding("198.51.100.90", 80, T0, flow_ref=http_ref), "s")
    assert_valid(event)
    assert event["http"] == {"hostname": "pub.example", "http_user_agent": "XAPP"}


class Both:
    """A flow sink that words every light row both ways: from the columns, and from the
    row's FlowState (the scalar path)."""

    def __init__(self) -> None:
        self.pipe: Pipeline | None = None
        self.rows_lines: list[str] = []
        self.state_lines: list[str] = []
        self.flow_lines: list[str] = []

    def flow(self, flow: FlowState, reason: EndReason) -> None:
        self.flow_lines.append(flow_line(flow, reason, "site-a"))

    def rows(self, light: LightFlows, slots: np.ndarray, reason: EndReason) -> None:
        self.rows_lines += row_lines(light, slots, reason, "site-a")
        for s in slots.tolist() if self.pipe is not None else ():
            self.state_lines.append(flow_line(self.pipe.light_path.flowstate(s), reason, "site-a"))


def test_light_rows_are_worded_as_their_flowstates_are() -> None:
    from bench.make_flood import flood

    frames = flood(3_000, 0x0A140001 + np.arange(4, dtype=np.uint64), np.random.default_rng(7))
    sink = Both()
    pipe = Pipeline(load_policy(str(PCAPS / "site.yaml")), load_catalog(),
                    PipelineSettings(keep_records=False))  # fmt: skip
    sink.pipe, pipe.flow_sink = pipe, sink
    ts = T0 + np.arange(frames.shape[0]) * 0.05  # 150 s: idle timeouts end some rows early
    for start in range(0, frames.shape[0], 512):
        rows = frames[start : start + 512]
        pipe.process(batch_of([r.tobytes() for r in rows], list(ts[start : start + 512])))
    pipe.finish()
    assert len(sink.rows_lines) > 2_000, "most of a scan stays on the light path"
    assert sink.rows_lines == sink.state_lines
    assert len(sink.rows_lines) + len(sink.flow_lines) == pipe.flow_count == 3_000
    check = validator()
    for line in sink.rows_lines[:200]:
        assert check.is_valid(json.loads(line)), line


def flow_events(path: Path, light: bool) -> list[str]:
    settings = PipelineSettings(keep_records=False, light_flows=light)
    sink = Both()
    run_replay([str(path)], load_policy(str(PCAPS / "site.yaml")), load_catalog(), settings,
               flow_sink=sink)  # fmt: skip
    lines = sink.flow_lines + sink.rows_lines
    return sorted(re.sub(r'"F\d{8}"', '"F"', line) for line in lines)


@pytest.mark.parametrize("name", ["demo_day.pcap.gz", "egress.pcap", "inbound.pcap"])
def test_flow_events_are_the_same_with_and_without_light_flows(name: str) -> None:
    """The light path words a flow as the FlowState path would (flow uids aside)."""
    light, heavy = flow_events(PCAPS / name, True), flow_events(PCAPS / name, False)
    assert light == heavy
    assert light
