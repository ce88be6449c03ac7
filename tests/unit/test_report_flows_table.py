"""The flow table: explicit dtypes, CSV and Parquet round trips, suffix checks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from monitor.report import write_flows as write_flows_lazy
from monitor.report.flows_table import FLOW_DTYPES, flows_frame, read_flows, write_flows
from tests.unit.report_samples import sample_flows

COLUMNS = [
    "uid", "proto", "orig_addr", "orig_port", "resp_addr", "resp_port", "first_ts", "last_ts",
    "duration", "orig_pkts", "orig_bytes", "resp_pkts", "resp_bytes", "state", "verdict",
    "device", "peer", "peer_name", "vendor", "endpoint", "end_reason", "findings",
]  # fmt: skip
INTS = ["orig_port", "resp_port", "orig_pkts", "orig_bytes", "resp_pkts", "resp_bytes"]
FLOATS = ["first_ts", "last_ts", "duration"]


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
    write_flows_lazy(sample_flows(), path)
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
