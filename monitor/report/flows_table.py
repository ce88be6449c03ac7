"""Every flow as a table with fixed dtypes, written as CSV or Parquet (``--flows FILE``)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from monitor.model import FlowRecord

_TEXT = pd.StringDtype()
# Column order and dtype of the export; text columns use pandas' nullable string dtype.
FLOW_DTYPES: dict[str, object] = {
    "uid": _TEXT,
    "proto": _TEXT,
    "orig_addr": _TEXT,
    "orig_port": "int64",
    "resp_addr": _TEXT,
    "resp_port": "int64",
    "first_ts": "float64",
    "last_ts": "float64",
    "duration": "float64",
    "orig_pkts": "int64",
    "orig_bytes": "int64",
    "resp_pkts": "int64",
    "resp_bytes": "int64",
    "state": _TEXT,
    "verdict": _TEXT,
    "device": _TEXT,
    "peer": _TEXT,
    "peer_name": _TEXT,
    "vendor": _TEXT,
    "endpoint": _TEXT,
    "end_reason": _TEXT,
    "findings": _TEXT,
}
FLOW_SUFFIXES = (".csv", ".parquet")


def _row(f: FlowRecord) -> tuple[object, ...]:
    return (
        f.uid, f.proto, f.orig_addr, f.orig_port, f.resp_addr, f.resp_port,
        f.first_ts, f.last_ts, f.last_ts - f.first_ts,
        f.orig_pkts, f.orig_bytes, f.resp_pkts, f.resp_bytes,
        f.state, str(f.verdict), f.device, f.peer, f.peer_name, f.vendor, f.endpoint,
        str(f.end_reason), ",".join(str(k) for k in f.findings),
    )  # fmt: skip


def flows_frame(flows: list[FlowRecord]) -> pd.DataFrame:
    """One row per flow, columns and dtypes as :data:`FLOW_DTYPES`; missing names are NA.

    ``duration`` is ``last_ts - first_ts``; ``findings`` is the comma-joined finding kinds
    (empty string when none).
    """
    columns = list(FLOW_DTYPES)
    frame = pd.DataFrame.from_records([_row(f) for f in flows], columns=columns)
    return frame.astype(FLOW_DTYPES)


def write_flows(flows: list[FlowRecord], path: str | os.PathLike[str]) -> None:
    """Write :func:`flows_frame` to ``path``: ``.csv`` (UTF-8, header) or ``.parquet``.

    Raises ``ValueError`` naming the path and the allowed suffixes for any other suffix.
    """
    suffix = _suffix(path)
    frame = flows_frame(flows)
    if suffix == ".csv":
        frame.to_csv(path, index=False, encoding="utf-8")
    else:
        frame.to_parquet(path, index=False, engine="pyarrow")


def read_flows(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a file :func:`write_flows` wrote, with the export's dtypes.

    In CSV an empty text cell is NA, except in ``findings`` where it means none.
    """
    suffix = _suffix(path)
    if suffix == ".parquet":
        return pd.read_parquet(path, engine="pyarrow")
    na = {name: [""] for name, dtype in FLOW_DTYPES.items() if dtype is _TEXT}
    na["findings"] = []
    return pd.read_csv(path, dtype=FLOW_DTYPES, keep_default_na=False, na_values=na)


def _suffix(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FLOW_SUFFIXES:
        allowed = ", ".join(FLOW_SUFFIXES)
        raise ValueError(f"{os.fspath(path)}: flows file must end in one of {allowed}")
    return suffix
