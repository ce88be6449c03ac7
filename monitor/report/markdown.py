"""The Markdown report an auditor reads or hands over (``--report FILE.md``)."""

from __future__ import annotations

import re

from monitor.model import AuditResult, DeviceSummary, Finding
from monitor.report._common import (
    KIND_MEANING,
    MIRROR_HEADER,
    MIRROR_NOTE,
    VERDICTS,
    bytes_by_verdict,
    bytes_text,
    caveats,
    clean_text,
    conflict_text,
    conflicts,
    count_by_kind,
    device_label,
    devices_per_kind,
    grouped_findings,
    has_facts,
    headline,
    human_bytes,
    identified_by,
    input_problems,
    iso_utc,
    mirror_rows,
    peer_text,
    port_text,
    sorted_devices,
)

# Backslash-escape what CommonMark/GFM give meaning to, wherever it stands; "." and "-"
# only matter at the start of a line, which a value never is here.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~&])")


def md(value: object) -> str:
    """Untrusted text as literal Markdown: specials escaped, control characters replaced."""
    return _MD_SPECIAL.sub(r"\\\1", clean_text(value)) if value not in (None, "") else "-"


def render_markdown(result: AuditResult) -> str:
    """The whole report: verdict, inputs, totals, kinds, devices, findings."""
    parts = [
        _head(result),
        _inputs(result),
        _mirror(result),
        _totals(result),
        _kinds(result),
        _devices(result),
        _findings(result),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def _table(header: list[str], rows: list[list[str]], align: str = "") -> str:
    """A GFM table; ``align`` has one character per column, ``r`` for right-aligned."""
    rule = ["---:" if align[i : i + 1] == "r" else "---" for i in range(len(header))]
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def _head(result: AuditResult) -> str:
    lines = [f"# cctv-monitor audit report: {md(result.site)}", "", f"**{headline(result)}**"]
    firsts = [i.first_ts for i in result.inputs if i.first_ts is not None]
    lasts = [i.last_ts for i in result.inputs if i.last_ts is not None]
    if firsts and lasts:
        lines += ["", f"Capture time (UTC): {iso_utc(min(firsts))} to {iso_utc(max(lasts))}"]
    lines += [f"\n> **Warning:** {note}" for note in caveats(result)]
    return "\n".join(lines)


def _inputs(result: AuditResult) -> str:
    rows = []
    for n, inp in enumerate(result.inputs, 1):
        problems = input_problems(inp)
        status = "**" + ", ".join(problems) + "**" if problems else "ok"
        ident = [str(n), md(inp.path), md(inp.format)]
        counts = [f"{inp.packets:,}", bytes_text(inp.bytes)]
        rows.append([*ident, *counts, iso_utc(inp.first_ts), iso_utc(inp.last_ts), status])
    header = ["#", "path", "format", "packets", "bytes", "first packet", "last packet", "status"]
    out = ["## Inputs", "", _table(header, rows, "r..rr")]
    for n, inp in enumerate(result.inputs, 1):
        out += ["", f"**Errors in input {n}** ({md(inp.path)}):", ""] if inp.errors else []
        out += [f"- {md(err)}" for err in inp.errors]
    return "\n".join(out)


def _mirror(result: AuditResult) -> str:
    rows = [[md(cell) for cell in row] for row in mirror_rows(result)]
    if not rows:
        return ""
    return f"## Mirror sessions\n\n{MIRROR_NOTE}\n\n" + _table(MIRROR_HEADER, rows, "...rr")


def _totals(result: AuditResult) -> str:
    row = [
        f"{result.packets:,}",
        bytes_text(result.bytes),
        f"{result.flow_count:,}",
        f"{len(result.devices):,}",
        f"{len(result.findings):,}",
    ]
    header = ["packets", "bytes", "flows", "devices", "findings"]
    return "## Totals\n\n" + _table(header, [row], "rrrrr")


def _kinds(result: AuditResult) -> str:
    counts = count_by_kind(result.findings)
    devices = devices_per_kind(result.findings)
    rows = [
        [f"`{kind}`", meaning, f"{counts[kind]:,}", f"{devices[kind]:,}"]
        for kind, meaning in KIND_MEANING.items()
    ]
    header = ["kind", "meaning", "findings", "devices"]
    return "## Findings by kind\n\n" + _table(header, rows, "..rr")


def _devices(result: AuditResult) -> str:
    devices = sorted_devices(result)
    if not devices:
        return "## Devices\n\nNo closed-network device was seen."
    header = ["device", "name", "vendor", "role", "model", "mac", "packets", "bytes", "flows"]
    header += ["findings", "first seen", "last seen"]
    rows = [_device_row(d) for d in devices]
    out = ["## Devices", "", _table(header, rows, "......rrrr")]
    out += _identification(devices)
    out += _conflicts(result)
    out += ["", "### Traffic by verdict (bytes)", ""]
    verdict_rows = [
        [md(d.ip), *(_verdict_cell(n) for n in bytes_by_verdict(d).values())] for d in devices
    ]
    extra = sorted({k for d in devices for k in bytes_by_verdict(d)} - set(VERDICTS))
    out.append(_table(["device", *VERDICTS, *extra], verdict_rows, "." + "r" * 12))
    return "\n".join(out)


def _identification(devices: list[DeviceSummary]) -> list[str]:
    """What the traffic told about each device, and the strongest evidence for it."""
    known = [d for d in devices if has_facts(d)]
    if not known:
        return []
    header = ["device", "firmware", "serial", "host name", "answers on", "identified by"]
    fields = [(d.ip, d.firmware, d.serial, d.hostname, ", ".join(d.services)) for d in known]
    rows = [[*map(md, row), md(identified_by(d))] for row, d in zip(fields, known, strict=True)]
    return ["", "### Device facts from traffic", "", _table(header, rows)]


def _conflicts(result: AuditResult) -> list[str]:
    found = conflicts(result)
    if not found:
        return []
    out = [
        "",
        "### Inventory conflicts",
        "",
        "The site inventory wins; the traffic says otherwise:",
    ]
    out.append("")
    out += [f"- {md(d.ip)} ({md(d.name)}): {md(conflict_text(c))}" for d, c in found]
    return out


def _device_row(d: DeviceSummary) -> list[str]:
    ident = [md(d.ip), md(d.name), md(d.vendor), md(d.role), md(d.model), md(d.mac)]
    counts = [f"{d.packets:,}", bytes_text(d.bytes), f"{d.flows:,}", f"{d.findings:,}"]
    return ident + counts + [iso_utc(d.first_ts), iso_utc(d.last_ts)]


def _verdict_cell(n: int) -> str:
    return "-" if n == 0 else human_bytes(n)


def _findings(result: AuditResult) -> str:
    if not result.findings:
        return "## Findings\n\nNone."
    devices = {d.ip: d for d in result.devices}
    out = ["## Findings"]
    header = ["peer", "port", "peer name", "vendor", "endpoint", "answered"]
    header += ["first (UTC)", "last (UTC)", "packets", "bytes", "evidence"]
    for device, by_kind in grouped_findings(result):
        out += ["", f"### {md(device_label(devices, device))}"]
        for kind, findings in by_kind:
            out += ["", f"#### `{kind}` ({len(findings)})", ""]
            out.append(_table(header, [_finding_row(f) for f in findings], "........rr"))
    return "\n".join(out)


def _finding_row(f: Finding) -> list[str]:
    return [
        md(peer_text(f)),
        md(port_text(f)),
        md(f.peer_name),
        md(f.vendor),
        md(f.endpoint),
        "yes" if f.answered else "**no**",
        iso_utc(f.first_ts),
        iso_utc(f.last_ts),
        f"{f.packets:,}",
        bytes_text(f.bytes),
        md(f.evidence),
    ]
