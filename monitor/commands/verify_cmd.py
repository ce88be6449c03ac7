"""`cctv-monitor verify REPORT.json`: do the files a report names still have its SHA-256?

The report's ``provenance`` names every input, the policy file (unless the built-in
default was used) and the evidence pcap, each with the SHA-256 it had when the report
was made. Each is hashed again and gets one line: ``ok``, ``changed`` or ``missing``.
A relative path is looked up from the current directory, then from the report's.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from monitor.capture.hashing import sha256_file
from monitor.report._common import clean_text
from monitor.report.json_report import SCHEMA

EXIT_OK, EXIT_CHANGED, EXIT_USAGE = 0, 1, 2


class NotAReport(ValueError):
    """The file is not a cctv-monitor JSON report with provenance."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """One file a report names: what it was (input, policy, evidence), where, its hash."""

    role: str
    path: str
    sha256: str | None


def verify_command(report_path: str, out: TextIO) -> int:
    """Check every file ``report_path`` names; a line each on ``out``; the exit status."""
    try:
        files = recorded_files(load_report(report_path))
    except (OSError, NotAReport) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(f"cctv-monitor: error: {report_path}: {why}", file=sys.stderr)
        return EXIT_USAGE
    base = os.path.dirname(os.path.abspath(report_path))
    status = EXIT_OK
    for rec in files:
        word, detail = check(rec, base)
        if word != "ok":
            status = EXIT_CHANGED
        line = f"{word:<8} {rec.role:<9} {clean_text(rec.path)}"
        out.write(line + (f"  ({clean_text(detail)})" if detail else "") + "\n")
    return status


def load_report(path: str) -> dict[str, Any]:
    """The JSON report at ``path``; NotAReport naming what is wrong with it."""
    with open(path, "rb") as fp:
        raw = fp.read()
    try:
        doc = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise NotAReport(f"not a JSON report ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise NotAReport(f'not a cctv-monitor report (no "schema": "{SCHEMA}")')
    if not isinstance(doc.get("provenance"), dict):
        raise NotAReport("the report has no provenance to verify")
    return doc


def recorded_files(doc: dict[str, Any]) -> list[Recorded]:
    """Every file the report's provenance names, inputs first, then policy and evidence."""
    prov = doc["provenance"]
    out: list[Recorded] = []
    inputs = prov.get("inputs")
    if not isinstance(inputs, list):
        raise NotAReport("provenance.inputs is not a list")
    for i, item in enumerate(inputs):
        out.append(_recorded("input", item, f"provenance.inputs[{i}]"))
    policy = prov.get("policy")
    if isinstance(policy, dict) and policy.get("path") is not None:
        out.append(_recorded("policy", policy, "provenance.policy"))
    evidence = prov.get("evidence")
    if evidence is not None:
        out.append(_recorded("evidence", evidence, "provenance.evidence"))
    return out


def _recorded(role: str, item: object, where: str) -> Recorded:
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        raise NotAReport(f"{where} has no path")
    sha = item.get("sha256")
    if sha is not None and not isinstance(sha, str):
        raise NotAReport(f"{where}.sha256 is not a string")
    return Recorded(role, item["path"], sha)


def check(rec: Recorded, base: str) -> tuple[str, str]:
    """``ok``, ``changed`` or ``missing`` for one file, and a detail for the last two."""
    path = locate(rec.path, base)
    if path is None:
        return "missing", "not found"
    try:
        digest = sha256_file(path)
    except OSError as exc:
        return "missing", f"cannot read {path}: {exc.strerror or exc}"
    where = "" if path == rec.path else f"found at {path}"
    if rec.sha256 is None:
        why = "the replay ran with --no-input-hash or could not read it"
        return "changed", f"no SHA-256 recorded: {why}"
    if digest != rec.sha256.lower():
        detail = f"sha256 {digest}, recorded {rec.sha256}"
        return "changed", f"{detail}; {where}" if where else detail
    return "ok", where


def locate(path: str, base: str) -> str | None:
    """``path`` if it exists, else (when relative) the same path under ``base``."""
    if os.path.exists(path):
        return path
    if not os.path.isabs(path):
        beside = os.path.join(base, path)
        if os.path.exists(beside):
            return beside
    return None
