"""The flow table's columns and rows, and its CSV, written without pandas (``--flows x.csv``).

The CSV is spreadsheet-safe (OWASP "CSV injection"): a text cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return (or with ``'``, so that the escape can be
undone exactly) gets a leading ``'``, which spreadsheets show as text instead of running
it as a formula. Names come from the traffic (SNI, HTTP Host, DNS), so anyone on the
network can choose them.

The standard library's ``csv`` writes it, cell by cell as pandas' ``to_csv`` would: the
same bytes (``tests/unit/test_report_flows_csv.py`` holds it to the pandas frame of
:mod:`monitor.report.flows_table`, its twin) without pandas' 0.2 s import. Parquet and
reading a table back stay with pandas.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable

import numpy as np

from monitor.model import FlowRecord, TlsCertificate

TEXT, INT, FLOAT = "string", "int64", "float64"
# Column order and kind of the export (flows_table gives pandas the same as dtypes).
FLOW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("uid", TEXT), ("proto", TEXT), ("orig_addr", TEXT), ("orig_port", INT),
    ("resp_addr", TEXT), ("resp_port", INT), ("first_ts", FLOAT), ("last_ts", FLOAT),
    ("first_time", TEXT), ("last_time", TEXT), ("duration", FLOAT), ("orig_pkts", INT),
    ("orig_bytes", INT), ("resp_pkts", INT), ("resp_bytes", INT), ("state", TEXT),
    ("verdict", TEXT), ("device", TEXT), ("peer", TEXT), ("peer_name", TEXT),
    ("query_name", TEXT), ("vendor", TEXT), ("endpoint", TEXT), ("end_reason", TEXT),
    ("findings", TEXT), ("ja3", TEXT), ("ja3s", TEXT), ("ja4", TEXT), ("cert_subject", TEXT),
    ("cert_names", TEXT), ("cert_issuer", TEXT), ("cert_not_after", FLOAT),
    ("cert_sha256", TEXT), ("community_id", TEXT),
)  # fmt: skip
CSV_ESCAPE = "'"
CSV_UNSAFE = ("=", "+", "-", "@", "\t", "\r", CSV_ESCAPE)  # first characters that get it
_AT = {name: i for i, (name, _) in enumerate(FLOW_COLUMNS)}  # a column's place in a row


def flow_row(f: FlowRecord) -> list[object]:
    """One flow's cells in :data:`FLOW_COLUMNS` order; the ISO times are left None."""
    return [
        f.uid, f.proto, f.orig_addr, f.orig_port, f.resp_addr, f.resp_port,
        f.first_ts, f.last_ts, None, None, round(f.last_ts - f.first_ts, 6),
        f.orig_pkts, f.orig_bytes, f.resp_pkts, f.resp_bytes,
        f.state, str(f.verdict), f.device, f.peer, f.peer_name, f.query_name,
        f.vendor, f.endpoint, str(f.end_reason), ",".join(str(k) for k in f.findings),
        f.ja3, f.ja3s, f.ja4, *_certificate(f.tls_certificate), f.community_id,
    ]  # fmt: skip


def _certificate(cert: TlsCertificate | None) -> tuple[object, ...]:
    """The cert_* cells: subject, names (comma-joined), issuer, end of validity, SHA-256."""
    if cert is None:
        return None, None, None, math.nan, None
    return cert.subject, ",".join(cert.names()), cert.issuer, cert.not_after, cert.sha256


def iso_micro(ts: np.ndarray) -> np.ndarray:
    """UNIX seconds as ISO 8601 UTC text with microseconds: ``2024-05-01T12:00:20.000000Z``."""
    micros = np.round(ts * 1e6).astype(np.int64).astype("datetime64[us]")
    return np.char.add(np.datetime_as_string(micros, unit="us"), "Z")


def write_flows_csv(flows: list[FlowRecord], path: str | os.PathLike[str]) -> None:
    """Write every flow to ``path`` as CSV: UTF-8, a header, CRLF line ends (RFC 4180: the
    csv module then also quotes a cell holding a lone CR), spreadsheet-safe text cells;
    NA and NaN are empty cells."""
    rows = [flow_row(f) for f in flows]
    if rows:
        for ts, text in (("first_ts", "first_time"), ("last_ts", "last_time")):
            at = _AT[ts]
            seconds = np.fromiter((r[at] for r in rows), np.float64, len(rows))
            for row, iso in zip(rows, iso_micro(seconds).tolist(), strict=True):
                row[_AT[text]] = iso
    cells = [_cell_writer(kind) for _, kind in FLOW_COLUMNS]
    with open(path, "w", encoding="utf-8", newline="") as fp:
        out = csv.writer(fp, lineterminator="\r\n")
        out.writerow([name for name, _ in FLOW_COLUMNS])
        out.writerows([cell(v) for cell, v in zip(cells, row, strict=True)] for row in rows)


def _cell_writer(kind: str) -> Callable[[object], str]:
    """How a column of ``kind`` writes a value, as pandas writes its dtype."""
    return {TEXT: _text_cell, INT: _int_cell, FLOAT: _float_cell}[kind]


def _text_cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    return CSV_ESCAPE + text if text.startswith(CSV_UNSAFE) else text


def _int_cell(value: object) -> str:
    return str(int(value))  # type: ignore[call-overload]


def _float_cell(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    return "" if math.isnan(number) else repr(number)
