"""The JSON report of CONTRACT.md §4 (``replay --json``, ``--report FILE.json``)."""

from __future__ import annotations

import math
from typing import Any, TextIO

from monitor.model import AuditResult, DeviceSummary, Finding, InputSummary
from monitor.report._common import (
    bytes_by_verdict,
    count_by_device,
    count_by_kind,
    sorted_devices,
    sorted_findings,
)
from monitor.report.json_text import dumps_indented

SCHEMA = "cctv-monitor/report/v1"


def report_dict(result: AuditResult) -> dict[str, Any]:
    """The report as plain JSON values, keys in a fixed order, no NaN or infinity.

    Contract fields come first in each object, additions after them. ``coverage`` says
    how the traffic arrived and what could not be read: the mirror sessions (tunnels)
    that delivered it and undecodable frames per layer. A device's
    ``evidence`` lists every fact learned about it ({fact, value, source, confidence});
    ``conflicts`` where the site inventory and the traffic disagree.

    Devices are ordered by address, findings by first time (then device, kind, peer).
    """
    findings = sorted_findings(result)
    return {
        "schema": SCHEMA,
        "verdict": result.verdict,
        "site": result.site,
        "inputs": [_input(i) for i in result.inputs],
        "totals": {
            "packets": int(result.packets),
            "bytes": int(result.bytes),
            "flows": int(result.flow_count),
        },
        "devices": [_device(d) for d in sorted_devices(result)],
        "findings": [_finding(f) for f in findings],
        "summary": {
            "findings_by_kind": count_by_kind(findings),
            "findings_by_device": count_by_device(findings),
        },
        "coverage": {
            "mirror_sessions": [m.to_json() for m in result.mirror_sessions],
            "decode_errors": {k: int(v) for k, v in sorted(result.decode_errors.items())},
            "devices_overflow": int(result.devices_overflow),
            "flow_evictions": int(result.flow_evictions),
        },
    }


def write_json(result: AuditResult, fp: TextIO) -> None:
    """Write :func:`report_dict` as indented JSON with a trailing newline.

    The text is pure ASCII (other characters as ``\\u`` escapes), so any stdout encoding
    and any undecodable byte a name carried (a lone surrogate) can be written.
    """
    # One write: json.dump writes piece by piece, ~40k system calls on an unbuffered
    # stdout (PYTHONUNBUFFERED) for a large report.
    fp.write(dumps_indented(report_dict(result)) + "\n")


def _input(inp: InputSummary) -> dict[str, Any]:
    return {
        "path": inp.path,
        "packets": int(inp.packets),
        "bytes": int(inp.bytes),
        "first_ts": _ts(inp.first_ts),
        "last_ts": _ts(inp.last_ts),
        "truncated": bool(inp.truncated),
        "errors": [str(e) for e in inp.errors],
        "format": inp.format,
        "undecodable": int(inp.undecodable),
    }


def _device(dev: DeviceSummary) -> dict[str, Any]:
    return {
        "ip": dev.ip,
        "name": dev.name,
        "vendor": dev.vendor,
        "role": dev.role,
        "packets": int(dev.packets),
        "bytes": int(dev.bytes),
        "flows": int(dev.flows),
        "findings": int(dev.findings),
        "mac": dev.mac,
        "model": dev.model,
        "firmware": dev.firmware,
        "serial": dev.serial,
        "hostname": dev.hostname,
        "first_ts": _ts(dev.first_ts),
        "last_ts": _ts(dev.last_ts),
        "services": list(dev.services),
        "bytes_by_verdict": bytes_by_verdict(dev),
        "evidence": [f.to_json() for f in dev.evidence],
        "conflicts": [c.to_json() for c in dev.conflicts],
    }


def _finding(f: Finding) -> dict[str, Any]:
    out = f.to_json()
    out["kind"] = str(f.kind)
    out["peer_port"] = None if f.peer_port is None else int(f.peer_port)
    out["answered"] = bool(f.answered)
    out["first_ts"] = _ts(f.first_ts)
    out["last_ts"] = _ts(f.last_ts)
    out["packets"] = int(f.packets)
    out["bytes"] = int(f.bytes)
    return out


def _ts(value: float | None) -> float | None:
    """A UNIX time as a float, ``None`` when unknown or not a finite number."""
    if value is None:
        return None
    ts = float(value)
    return ts if math.isfinite(ts) else None
