"""Every flow as a pandas table with fixed dtypes: Parquet, reading a table back, and the
twin the pandas-free CSV writer (:mod:`monitor.report.flows_csv`) is tested against.

Parquet keeps the raw values; :func:`read_flows` undoes the CSV's spreadsheet escape.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from monitor.model import FlowRecord
from monitor.report import FLOW_SUFFIXES, checked_suffix
from monitor.report.flows_csv import (
    CSV_ESCAPE,
    CSV_UNSAFE,
    FLOW_COLUMNS,
    TEXT,
    flow_row,
    iso_micro,
)

_TEXT = pd.StringDtype()
# Column order and dtype of the export; text columns use pandas' nullable string dtype.
FLOW_DTYPES: dict[str, str | pd.StringDtype] = {
    name: _TEXT if kind == TEXT else kind for name, kind in FLOW_COLUMNS
}


def flows_frame(flows: list[FlowRecord]) -> pd.DataFrame:
    """One row per flow, columns and dtypes as :data:`FLOW_DTYPES`; missing names are NA.

    ``first_time``/``last_time`` are ``first_ts``/``last_ts`` as ISO 8601 UTC with
    microseconds and ``Z``; ``duration`` is ``last_ts - first_ts`` rounded to microseconds;
    ``query_name`` is a DNS flow's first query (``peer_name`` is the peer's own name);
    ``findings`` is the comma-joined finding kinds (empty string when none); ``ja3``,
    ``ja3s``, ``ja4`` and the ``cert_*`` columns are those of a TLS or QUIC handshake;
    ``community_id`` is the flow's Community ID v1.
    """
    columns = list(FLOW_DTYPES)
    frame = pd.DataFrame.from_records([flow_row(f) for f in flows], columns=columns)
    frame["first_time"] = iso_micro(frame["first_ts"].to_numpy(dtype=np.float64))
    frame["last_time"] = iso_micro(frame["last_ts"].to_numpy(dtype=np.float64))
    return frame.astype(FLOW_DTYPES)


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot start a formula, as in the CSV
    (:mod:`monitor.report.flows_csv`); written with ``to_csv`` it is that file's twin."""
    out = frame.copy()
    for name, dtype in FLOW_DTYPES.items():
        if dtype is _TEXT:
            column = out[name]
            unsafe = column.str.startswith(CSV_UNSAFE).fillna(False).astype(bool)
            out[name] = column.mask(unsafe, CSV_ESCAPE + column)
    return out


def write_parquet(flows: list[FlowRecord], path: str | os.PathLike[str]) -> None:
    """Write :func:`flows_frame` to ``path`` as Parquet, the dtypes kept (the suffix is
    checked by :func:`monitor.report.write_flows`, which also writes the CSV)."""
    flows_frame(flows).to_parquet(path, index=False, engine="pyarrow")


def read_flows(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a file :func:`monitor.report.write_flows` wrote, with the export's dtypes and raw
    values.

    In CSV an empty text cell is NA, except in ``findings`` where it means none; the
    spreadsheet escape (a leading ``'``) is taken off again.
    """
    suffix = _suffix(path)
    if suffix == ".parquet":
        return pd.read_parquet(path, engine="pyarrow")
    text = [name for name, dtype in FLOW_DTYPES.items() if dtype is _TEXT]
    na = {name: [""] for name in FLOW_DTYPES}  # NaN is written as an empty cell too
    na["findings"] = []
    frame = pd.read_csv(path, dtype=FLOW_DTYPES, keep_default_na=False, na_values=na)
    for name in text:
        column = frame[name]
        escaped = column.str.startswith(CSV_ESCAPE).fillna(False).astype(bool)
        frame[name] = column.mask(escaped, column.str.slice(1))
    return frame


def _suffix(path: str | os.PathLike[str]) -> str:
    return checked_suffix(path, FLOW_SUFFIXES, "flows")
