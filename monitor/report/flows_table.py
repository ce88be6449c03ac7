"""Every flow as a table with fixed dtypes, written as CSV or Parquet (``--flows FILE``).

The CSV is spreadsheet-safe (OWASP "CSV injection"): a text cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return (or with ``'``, so that the escape can be
undone exactly) gets a leading ``'``, which spreadsheets show as text instead of running
it as a formula. Names come from the traffic (SNI, HTTP Host, DNS), so anyone on the
network can choose them. Parquet keeps the raw values; :func:`read_flows` undoes the CSV
escape.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.model import FlowRecord, TlsCertificate
from monitor.report import FLOW_SUFFIXES

_TEXT = pd.StringDtype()
# Column order and dtype of the export; text columns use pandas' nullable string dtype.
FLOW_DTYPES: dict[str, str | pd.StringDtype] = {
    "uid": _TEXT,
    "proto": _TEXT,
    "orig_addr": _TEXT,
    "orig_port": "int64",
    "resp_addr": _TEXT,
    "resp_port": "int64",
    "first_ts": "float64",
    "last_ts": "float64",
    "first_time": _TEXT,
    "last_time": _TEXT,
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
    "query_name": _TEXT,
    "vendor": _TEXT,
    "endpoint": _TEXT,
    "end_reason": _TEXT,
    "findings": _TEXT,
    "ja3": _TEXT,
    "ja3s": _TEXT,
    "ja4": _TEXT,
    "cert_subject": _TEXT,
    "cert_names": _TEXT,
    "cert_issuer": _TEXT,
    "cert_not_after": "float64",
    "cert_sha256": _TEXT,
    "community_id": _TEXT,
}
CSV_ESCAPE = "'"
CSV_UNSAFE = ("=", "+", "-", "@", "\t", "\r", CSV_ESCAPE)  # first characters that get it


def _row(f: FlowRecord) -> tuple[object, ...]:
    return (
        f.uid, f.proto, f.orig_addr, f.orig_port, f.resp_addr, f.resp_port,
        f.first_ts, f.last_ts, None, None, round(f.last_ts - f.first_ts, 6),
        f.orig_pkts, f.orig_bytes, f.resp_pkts, f.resp_bytes,
        f.state, str(f.verdict), f.device, f.peer, f.peer_name, f.query_name,
        f.vendor, f.endpoint, str(f.end_reason), ",".join(str(k) for k in f.findings),
        f.ja3, f.ja3s, f.ja4, *_certificate(f.tls_certificate), f.community_id,
    )  # fmt: skip


def _certificate(cert: TlsCertificate | None) -> tuple[object, ...]:
    """The cert_* cells: subject, names (comma-joined), issuer, end of validity, SHA-256."""
    if cert is None:
        return None, None, None, np.nan, None
    return cert.subject, ",".join(cert.names()), cert.issuer, cert.not_after, cert.sha256


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
    frame = pd.DataFrame.from_records([_row(f) for f in flows], columns=columns)
    frame["first_time"] = iso_micro(frame["first_ts"].to_numpy(dtype=np.float64))
    frame["last_time"] = iso_micro(frame["last_ts"].to_numpy(dtype=np.float64))
    return frame.astype(FLOW_DTYPES)


def iso_micro(ts: np.ndarray) -> np.ndarray:
    """UNIX seconds as ISO 8601 UTC text with microseconds: ``2024-05-01T12:00:20.000000Z``."""
    micros = np.round(ts * 1e6).astype(np.int64).astype("datetime64[us]")
    return np.char.add(np.datetime_as_string(micros, unit="us"), "Z")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot start a formula (see the module doc)."""
    out = frame.copy()
    for name, dtype in FLOW_DTYPES.items():
        if dtype is _TEXT:
            column = out[name]
            unsafe = column.str.startswith(CSV_UNSAFE).fillna(False).astype(bool)
            out[name] = column.mask(unsafe, CSV_ESCAPE + column)
    return out


def write_flows(flows: list[FlowRecord], path: str | os.PathLike[str]) -> None:
    """Write :func:`flows_frame` to ``path``: ``.csv`` (UTF-8, header, CRLF, spreadsheet-safe)
    or ``.parquet``.

    Raises ``ValueError`` naming the path and the allowed suffixes for any other suffix.
    """
    suffix = _suffix(path)
    frame = flows_frame(flows)
    if suffix == ".csv":
        # RFC 4180 line ends: the csv module then also quotes a cell holding a lone CR,
        # which it leaves bare under "\n" (and every reader would split the row there).
        spreadsheet_safe(frame).to_csv(path, index=False, encoding="utf-8", lineterminator="\r\n")
    else:
        frame.to_parquet(path, index=False, engine="pyarrow")


def read_flows(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a file :func:`write_flows` wrote, with the export's dtypes and raw values.

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
    suffix = Path(path).suffix.lower()
    if suffix not in FLOW_SUFFIXES:
        allowed = ", ".join(FLOW_SUFFIXES)
        raise ValueError(f"{os.fspath(path)}: flows file must end in one of {allowed}")
    return suffix
