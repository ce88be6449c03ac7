"""The JSON report of CONTRACT.md §4 (``replay --json``, ``--report FILE.json``)."""

from __future__ import annotations

import math
from typing import Any, TextIO

from monitor.model import AuditResult, DeviceSummary, Finding, InputSummary
from monitor.report._common import (
    bytes_by_verdict,
    count_by_device,
    count_by_kind,
    coverage_notes,
    sorted_devices,
    sorted_findings,
)
from monitor.report.json_text import dumps_indented

SCHEMA = "cctv-monitor/report/v1"


def report_dict(result: AuditResult) -> dict[str, Any]:
    """The report as plain JSON values, keys in a fixed order, no NaN or infinity.

    Contract fields come first in each object, additions after them. ``verdict`` is
    ``no_data`` when no packet was read (exit 3), ``findings`` when there is at least one
    finding, else ``clean``. ``coverage`` says how the traffic arrived and what the
    verdict does not cover (see :func:`coverage_dict`); ``provenance`` where the report
    comes from (see :func:`provenance_dict`; null when the caller set none). A device's
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
        "silent_hosts": [_silent_host(d) for d in result.silent_hosts],
        "silent_hosts_overflow": int(result.silent_overflow),
        "coverage": coverage_dict(result),
        "provenance": provenance_dict(result),
    }


def coverage_dict(result: AuditResult) -> dict[str, Any]:
    """What the verdict covers and what it does not (the report's ``coverage``).

    - ``complete``: true when every input was read to its end, every frame decoded, no
      gap exceeded the threshold and no drop was recorded; ``reasons`` says why not (the
      phrases of the Markdown/HTML headline), empty when complete.
    - ``mirror_sessions``: the tunnels that delivered the mirror; ``decode_errors``:
      frames not decoded, per layer (``ip``, ``vlan``, ``tunnel``); ``devices_overflow``:
      hosts counted as device ``other``; ``flow_evictions``: flows ended by a full table.
    - ``inputs[]``: per input ``path``; ``status`` (``complete``, ``partial``: stopped
      early or parts skipped, ``unreadable``: not a capture or not there, ``duplicate``:
      same SHA-256 as ``duplicate_of``, not read again); ``complete``; ``size`` (bytes on
      disk, null if unknown); ``read_bytes`` (capture bytes read up to where reading
      ended; decompressed bytes for ``.gz``); ``damage_offset`` (capture byte offset
      where reading stopped early, decompressed for ``.gz``, else null).
    - ``gap_threshold_seconds`` (null: not looked for), ``gaps[]`` ({start, end, seconds};
      the first 1,000 in time order), ``gaps_total`` and ``gap_seconds_total``: stretches
      of packet time without any packet from any input.
    - ``interface_drops[]``: {input, interface, name, received, ifdrop, osdrop} from the
      last pcapng Interface Statistics Block of each interface; null where not recorded.
    """
    reasons = coverage_notes(result)
    gaps = result.gaps
    return {
        "complete": not reasons,
        "reasons": reasons,
        "mirror_sessions": [m.to_json() for m in result.mirror_sessions],
        "decode_errors": {k: int(v) for k, v in sorted(result.decode_errors.items())},
        "devices_overflow": int(result.devices_overflow),
        "flow_evictions": int(result.flow_evictions),
        "inputs": [_input_coverage(i) for i in result.inputs],
        "gap_threshold_seconds": gaps.threshold,
        "gaps": [g.to_json() for g in gaps.gaps],
        "gaps_total": int(gaps.total),
        "gap_seconds_total": float(gaps.seconds),
        "interface_drops": [d.to_json(i.path) for i in result.inputs for d in i.interface_drops],
    }


def provenance_dict(result: AuditResult) -> dict[str, Any] | None:
    """Where the report comes from (the report's ``provenance``), None when not set.

    ``tool``/``tool_version``, ``catalog_version``, ``policy`` ({path, sha256}; both null
    for the built-in default, with ``builtin`` true), ``inputs[]`` ({path, size, sha256,
    format, first_ts, last_ts, duplicate_of}), ``evidence`` ({path, sha256, packets} or
    null without ``--evidence``), ``generated`` (UTC, ISO 8601) and ``command_line``
    (the arguments as given). ``cctv-monitor verify REPORT.json`` re-hashes these files.
    """
    prov = result.provenance
    if prov is None:
        return None
    evidence = None
    if prov.evidence_path is not None:
        evidence = {
            "path": prov.evidence_path,
            "sha256": prov.evidence_sha256,
            "packets": prov.evidence_packets,
        }
    return {
        "tool": "cctv-monitor",
        "tool_version": prov.tool_version,
        "catalog_version": prov.catalog_version,
        "policy": {
            "path": prov.policy_path,
            "sha256": prov.policy_sha256,
            "builtin": prov.policy_path is None,
        },
        "inputs": [
            {
                "path": i.path,
                "size": i.size,
                "sha256": i.sha256,
                "format": i.format,
                "first_ts": _ts(i.first_ts),
                "last_ts": _ts(i.last_ts),
                "duplicate_of": i.duplicate_of,
            }
            for i in result.inputs
        ],
        "evidence": evidence,
        "generated": prov.generated,
        "command_line": list(prov.command_line),
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
        "duplicate_of": inp.duplicate_of,
    }


def _input_coverage(inp: InputSummary) -> dict[str, Any]:
    if inp.duplicate_of is not None:
        status = "duplicate"
    elif not inp.format:
        status = "unreadable"
    else:
        status = "complete" if inp.complete else "partial"
    return {
        "path": inp.path,
        "status": status,
        "complete": inp.complete,
        "size": inp.size,
        "read_bytes": int(inp.read_bytes),
        "damage_offset": inp.damage_offset,
        "duplicate_of": inp.duplicate_of,
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
        "addresses": list(dev.addresses or [dev.ip]),
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
        "tls_fingerprints": [p.to_json() for p in dev.tls_fingerprints],
    }


def _silent_host(dev: DeviceSummary) -> dict[str, Any]:
    """A closed-network address only ever seen as a destination (``silent_hosts``): no
    device, though findings about its flows name it as their ``device``."""
    return {
        "ip": dev.ip,
        "packets_received": int(dev.packets),
        "bytes_received": int(dev.bytes),
        "flows": int(dev.flows),
        "findings": int(dev.findings),
        "first_ts": _ts(dev.first_ts),
        "last_ts": _ts(dev.last_ts),
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
