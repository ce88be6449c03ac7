"""`replay --eve` on every sample and real capture: every line valid under Suricata's EVE
schema, one flow event per flow and one alert per finding, alerts pointing at their flow's
event, and every Community ID equal to the reference implementation's (`communityid`),
ICMP types checked against tshark."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import communityid
import jsonschema
import pytest

from monitor.cli import main
from monitor.decode.icmp_errors import V4_ERROR_TYPES, V6_ERROR_TYPES
from monitor.report.flows_table import read_flows
from tests.requirements import SHARED, require_shared, require_tool, shared_names

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
SAMPLES = sorted(p.name for p in PCAPS.glob("*.pcap*"))
REAL = shared_names("pcaps-real", "*.pcap*")
PROTO_NUMBERS = {"TCP": 6, "UDP": 17, "ICMP": 1, "IPv6-ICMP": 58, "SCTP": 132, "GRE": 47,
                 "ESP": 50, "AH": 51}  # fmt: skip


@cache
def validator() -> Any:
    schema = json.loads(require_shared("reference/eve/schema.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def replay(path: Path, tmp_path: Path, *extra: str) -> tuple[dict[str, Any], list[dict]]:
    eve = tmp_path / "eve.json"
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["replay", str(path), "--json", "--no-progress", "--eve", str(eve), *extra])
    assert status in (0, 1, 3)
    return json.loads(out.getvalue()), [json.loads(line) for line in eve.read_text().splitlines()]


def flowvar(event: dict[str, Any], key: str) -> str:
    (value,) = [v["value"] for v in event["metadata"]["flowvars"] if v["key"] == key]
    return value


def oracle(event: dict[str, Any]) -> str:
    """The `communityid` package's ID for an event's tuple (ICMP: its type and code)."""
    proto = PROTO_NUMBERS.get(event["proto"]) or int(event["proto"])
    if proto in (1, 58):
        tpl = communityid.FlowTuple(
            proto, event["src_ip"], event["dest_ip"], event["icmp_type"], event["icmp_code"]
        )
    elif proto in communityid.PORT_PROTOS:
        tpl = communityid.FlowTuple(
            proto, event["src_ip"], event["dest_ip"], event["src_port"], event["dest_port"]
        )
    else:
        tpl = communityid.FlowTuple(proto, event["src_ip"], event["dest_ip"])
    return communityid.CommunityID().calc(tpl)


def check(report: dict[str, Any], events: list[dict[str, Any]]) -> None:
    check_schema = validator()
    for event in events:
        errors = [e.message for e in check_schema.iter_errors(event)]
        assert not errors, (errors, event)
    flows = [e for e in events if e["event_type"] == "flow"]
    alerts = [e for e in events if e["event_type"] == "alert"]
    assert len(flows) + len(alerts) == len(events)
    assert len(flows) == report["totals"]["flows"]
    assert len(alerts) == len(report["findings"])
    by_id = {e["flow_id"]: e for e in flows}
    assert len(by_id) == len(flows), "flow ids are unique"
    for event in flows:
        assert event["community_id"] == oracle(event), event
    for alert, finding in zip(alerts, report["findings"], strict=True):  # the report's order
        meta = alert["alert"]["metadata"]
        assert meta["kind"] == [finding["kind"]] and meta["device"] == [finding["device"]]
        assert alert["community_id"] == finding["community_id"]
        flow = by_id[alert["flow_id"]]  # its flow's event: same flow, same tuple
        assert flowvar(flow, "cctv.uid") == finding["flow_uid"]
        assert flow["flow"]["alerted"] is True
        for field in ("src_ip", "src_port", "dest_ip", "dest_port", "proto", "community_id"):
            assert alert.get(field) == flow.get(field), field
    flagged = {e["flow_id"] for e in flows if e["flow"]["alerted"]}
    assert {a["flow_id"] for a in alerts} <= flagged


@pytest.mark.parametrize("name", SAMPLES)
def test_samples(name: str, tmp_path: Path) -> None:
    flows_csv = tmp_path / "flows.csv"
    report, events = replay(PCAPS / name, tmp_path, "--config", str(PCAPS / "site.yaml"),
                            "--flows", str(flows_csv))  # fmt: skip
    check(report, events)
    assert any(e["event_type"] == "alert" for e in events) or report["verdict"] == "clean"
    # the flows table's community_id is the flow event's, flow by flow
    table = read_flows(flows_csv)
    ids = dict(zip(table["uid"], table["community_id"], strict=True))
    for event in (e for e in events if e["event_type"] == "flow"):
        assert ids[flowvar(event, "cctv.uid")] == event["community_id"]


@pytest.mark.realpcaps
@pytest.mark.parametrize("name", REAL)
def test_real_captures(name: str, tmp_path: Path) -> None:
    path = require_shared(SHARED / "pcaps-real" / name)
    report, events = replay(path, tmp_path)
    check(report, events)


ICMP_ERRORS = {4: set(V4_ERROR_TYPES), 6: set(V6_ERROR_TYPES)}  # part of the flow they quote


QUOTING = {4: {5}, 6: {137}}  # no errors, but they carry a quoted header too (redirects)


def icmp_messages(path: Path) -> Iterator[tuple[str, str, int, int]]:
    """tshark: (time, source, type, code) of every ICMP/ICMPv6 message but the errors: the
    innermost carrier's source (tunnels have several IP headers, a redirect quotes one)."""
    fields = ["frame.time_epoch", "ip.src", "ipv6.src", "icmp.type", "icmp.code", "icmpv6.type",
              "icmpv6.code"]  # fmt: skip
    cmd = [require_tool("tshark"), "-n", "-r", str(path), "-Y", "icmp or icmpv6", "-T", "fields",
           "-E", "occurrence=a", "-E", "aggregator=;"]  # fmt: skip
    cmd += [arg for f in fields for arg in ("-e", f)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        ts, v4, v6, t4, c4, t6, c6 = (cell.split(";") for cell in line.split("\t"))
        version = 4 if t4[0] else 6
        kind, code = int((t4 if version == 4 else t6)[0]), int((c4 if version == 4 else c6)[0])
        if kind in ICMP_ERRORS[version]:
            continue
        sources = v4 if version == 4 else v6
        yield ts[0], sources[-2 if kind in QUOTING[version] else -1], kind, code


ICMP_CAPTURES = [
    "bench_merged_ndpi-nfstream-tests_ethernet.pcap",  # v4 and v6: echo, ND, MLD, router
    "iotsentinel_ednet-cam1_setup-A-1.pcap",
    "ndpi_googledns_android10.pcap",
    "ndpi_malformed_icmp.pcap",
    "tjoconnor_blink-cam-01.pcap",
    "zeek_tunnel_gre-within-gre.pcap",
    "zeek_mdns.pcap",
]


@pytest.mark.realpcaps
@pytest.mark.tools
@pytest.mark.parametrize("name", ICMP_CAPTURES)
def test_icmp_types_are_those_tshark_reads(name: str, tmp_path: Path) -> None:
    """An ICMP flow's Community ID takes the type and code of its first message: the one
    tshark shows at the flow's start, from its originator."""
    path = require_shared(SHARED / "pcaps-real" / name)
    _, events = replay(path, tmp_path)
    icmp = [e for e in events if e["event_type"] == "flow" and e["proto"] in ("ICMP", "IPv6-ICMP")]
    assert icmp, "the capture has ICMP flows"
    first: dict[tuple[str, str], tuple[int, int]] = {}
    for ts, src, kind, code in icmp_messages(path):
        first.setdefault((ts_key(float(ts)), src), (kind, code))
    for event in icmp:
        start = datetime.strptime(event["flow"]["start"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
        want = first[(ts_key(start), event["src_ip"])]
        assert (event["icmp_type"], event["icmp_code"]) == want, event
        assert event["community_id"] == oracle(event)


def ts_key(ts: float) -> str:
    return f"{ts:.6f}"
