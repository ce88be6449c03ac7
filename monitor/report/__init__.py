"""Reports of an audit: JSON, Markdown, HTML, flow tables and OpenMetrics text.

Each renderer is imported when it is first used (``render_html`` and the others below
are loaded on first access), so a ``replay --json`` does not pay for the Markdown,
HTML and OpenMetrics modules at start-up.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.model import AuditResult, FlowRecord

if TYPE_CHECKING:
    from monitor.report.html import render_html
    from monitor.report.json_report import report_dict, write_json
    from monitor.report.markdown import render_markdown
    from monitor.report.openmetrics import write_openmetrics

REPORT_SUFFIXES = (".json", ".md", ".html")
FLOW_SUFFIXES = (".csv", ".parquet")  # here, not in flows_table, so checks need no pandas
_LAZY = {
    "render_html": "monitor.report.html",
    "report_dict": "monitor.report.json_report",
    "write_json": "monitor.report.json_report",
    "render_markdown": "monitor.report.markdown",
    "write_openmetrics": "monitor.report.openmetrics",
}

__all__ = [
    "FLOW_SUFFIXES",
    "REPORT_SUFFIXES",
    "checked_suffix",
    "render_html",
    "render_markdown",
    "report_dict",
    "write_flows",
    "write_json",
    "write_openmetrics",
    "write_report",
]


def checked_suffix(path: str | os.PathLike[str], allowed: tuple[str, ...], what: str) -> str:
    """``path``'s suffix in lower case; ``ValueError`` naming the path and the ``allowed``
    suffixes when it is none of them."""
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise ValueError(f"{os.fspath(path)}: {what} file must end in one of {', '.join(allowed)}")
    return suffix


def write_report(result: AuditResult, path: str | os.PathLike[str]) -> None:
    """Write the report in the format the suffix names: ``.json``, ``.md`` or ``.html``.

    Raises ``ValueError`` naming the path and the allowed suffixes for any other suffix,
    before anything is written.
    """
    suffix = checked_suffix(path, REPORT_SUFFIXES, "report")
    with open(path, "w", encoding="utf-8", newline="\n") as fp:
        if suffix == ".json":
            from monitor.report.json_report import write_json

            write_json(result, fp)
        elif suffix == ".md":
            from monitor.report.markdown import render_markdown

            fp.write(render_markdown(result))
        else:
            from monitor.report.html import render_html

            fp.write(render_html(result))


def write_flows(flows: list[FlowRecord], path: str | os.PathLike[str]) -> None:
    """Write every flow as ``.csv`` (:mod:`monitor.report.flows_csv`, no pandas) or
    ``.parquet`` (:mod:`monitor.report.flows_table`, pandas and pyarrow).

    Raises ``ValueError`` naming the path and the allowed suffixes for any other suffix,
    before anything is written.
    """
    if checked_suffix(path, FLOW_SUFFIXES, "flows") == ".csv":
        from monitor.report.flows_csv import write_flows_csv

        write_flows_csv(flows, path)
    else:  # pandas' import time is paid only here
        from monitor.report.flows_table import write_parquet

        write_parquet(flows, path)


def __getattr__(name: str) -> Any:
    """The renderers, imported on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
