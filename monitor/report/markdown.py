"""The Markdown report an auditor reads or hands over (``--report FILE.md``).

The same order as the HTML report: the answer to "is the closed network closed?" first
(devices that crossed it, vendor endpoints, bytes sent out, first and last time,
warnings), then the evidence: one findings table per kind, the devices, what was read,
provenance.
"""

from __future__ import annotations

import re

from monitor.model import AuditResult, DeviceSummary, Finding, FindingKind
from monitor.report._common import (
    KIND_MEANING,
    MIRROR_HEADER,
    MIRROR_NOTE,
    PEER_HEADER,
    SILENT_NOTE,
    VERDICTS,
    bytes_by_verdict,
    bytes_text,
    caveats,
    clean_text,
    conflict_text,
    conflicts,
    count_by_kind,
    devices_per_kind,
    finding_key,
    has_facts,
    headline,
    human_bytes,
    identified_by,
    input_problems,
    ip_key,
    iso_utc,
    mirror_rows,
    peer_text,
    plural,
    port_text,
    silent_overflow_text,
    silent_rows,
    sorted_devices,
)
from monitor.report.answer import Answer, addresses, answer, answer_sentences

# Backslash-escape what CommonMark/GFM give meaning to, wherever it stands; "." and "-"
# only matter at the start of a line, which a value never is here.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~&])")


def md(value: object) -> str:
    """Untrusted text as literal Markdown: specials escaped, control characters replaced."""
    return _MD_SPECIAL.sub(r"\\\1", clean_text(value)) if value not in (None, "") else "-"


def render_markdown(result: AuditResult) -> str:
    """The whole report: the answer, then findings per kind, devices, inputs, provenance."""
    parts = [
        _answer(result, answer(result)),
        _findings(result),
        _devices(result),
        _read(result),
        _provenance(result),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def _table(header: list[str], rows: list[list[str]], align: str = "") -> str:
    """A GFM table; ``align`` has one character per column, ``r`` for right-aligned."""
    rule = ["---:" if align[i : i + 1] == "r" else "---" for i in range(len(header))]
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def _answer(result: AuditResult, ans: Answer) -> str:
    first, *rest = answer_sentences(result, ans, md)
    lines = [
        f"# cctv-monitor audit report: {md(result.site)}",
        "",
        "## Is the closed network closed?",
    ]
    lines += ["", f"**{first}**", "", f"**{md(headline(result))}**"]
    lines += [f"\n{sentence}" for sentence in rest]
    lines += [f"\n> **Warning:** {md(note)}" for note in caveats(result)]
    if ans.devices:
        lines += ["", "### Devices that exchanged traffic with the outside", ""]
        header = ["device", "name", "findings", "vendor endpoints reached", "outside addresses"]
        header += ["bytes sent out", "bytes both ways", "first (UTC)", "last (UTC)"]
        rows = [
            [md(d.ip), md(d.name), ", ".join(f"`{k}`" for k in d.kinds) or "-",
             md(", ".join(d.endpoints)), f"{d.peers:,}", bytes_text(d.sent),
             bytes_text(d.exchanged), iso_utc(d.first_ts), iso_utc(d.last_ts)]
            for d in ans.devices
        ]  # fmt: skip
        lines.append(_table(header, rows, "....rrr"))
    if ans.endpoints:
        lines += ["", "### Vendor endpoints", ""]
        header = ["endpoint", "vendor", "names seen", "devices", "reached", "flows", "bytes"]
        header += ["first (UTC)", "last (UTC)"]
        rows = [
            [md(u.endpoint), md(u.vendor), md(", ".join(u.names)), md(", ".join(u.devices)),
             "yes" if u.reached else "looked up only", f"{u.flows:,}", bytes_text(u.bytes),
             iso_utc(u.first_ts), iso_utc(u.last_ts)]
            for u in ans.endpoints
        ]  # fmt: skip
        lines.append(_table(header, rows, ".....rr"))
    return "\n".join(lines)


def _findings(result: AuditResult) -> str:
    """Findings by kind: a summary, then one table per kind with the evidence in words."""
    counts, devices = count_by_kind(result.findings), devices_per_kind(result.findings)
    rows = [
        [f"`{kind}`", meaning, f"{counts[kind]:,}", f"{devices[kind]:,}"]
        for kind, meaning in KIND_MEANING.items()
    ]
    out = [
        "## Findings by kind",
        "",
        _table(["kind", "meaning", "findings", "devices"], rows, "..rr"),
    ]
    if not result.findings:
        return "\n".join([*out, "", "None."])
    for kind in FindingKind:
        found = sorted(
            (f for f in result.findings if f.kind == kind),
            key=lambda f: (ip_key(f.device), finding_key(f)),
        )
        if found:
            summary = f"{plural(len(found), 'finding')} on {plural(devices[kind], 'device')}."
            out += ["", f"### `{kind}`: {KIND_MEANING[kind]}", "", summary, ""]
            out.append(_kind_table(kind, found))
    return "\n".join(out)


def _kind_table(kind: FindingKind, found: list[Finding]) -> str:
    vendor = any(f.endpoint for f in found)
    dns = kind in (FindingKind.VENDOR_LOOKUP, FindingKind.EXTERNAL_RESOLVER)
    header = ["device", PEER_HEADER.get(kind, "peer"), "port", "asked for" if dns else "name"]
    header += ["vendor", "endpoint"] if vendor else []
    header += ["answered", "first (UTC)", "last (UTC)", "flows", "packets", "bytes", "evidence"]
    rows = []
    for f in found:
        name = (getattr(f, "query_name", None) or f.peer_name) if dns else f.peer_name
        row = [md(f.device), md(peer_text(f)), md(port_text(f)), md(name)]
        row += [md(f.vendor), md(f.endpoint)] if vendor else []
        row += ["yes" if f.answered else "**no**", iso_utc(f.first_ts), iso_utc(f.last_ts)]
        row += [f"{f.flows:,}", f"{f.packets:,}", bytes_text(f.bytes), md(f.evidence)]
        rows.append(row)
    return _table(header, rows, "." * (len(header) - 4) + "rrr")


def _devices(result: AuditResult) -> str:
    devices = sorted_devices(result)
    if not devices:
        return "\n".join(["## Devices", "", "No closed-network device was seen.", *_silent(result)])
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
    return "\n".join(out + _silent(result))


def _silent(result: AuditResult) -> list[str]:
    rows = silent_rows(result)
    if not rows:
        return []
    header = ["address", "packets received", "bytes received", "flows", "findings"]
    header += ["first seen", "last seen"]
    cells = [
        [md(ip), f"{p:,}", bytes_text(b), f"{fl:,}", f"{fi:,}", iso_utc(a), iso_utc(z)]
        for ip, p, b, fl, fi, a, z in rows
    ]
    out = ["", "### Silent hosts", "", SILENT_NOTE, "", _table(header, cells, ".rrrr")]
    more = silent_overflow_text(result)
    return out + (["", more] if more else [])


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
    also = addresses(d)[1:]
    device = md(d.ip) + (f" (also {md(', '.join(also))})" if also else "")
    ident = [device, md(d.name), md(d.vendor), md(d.role), md(d.model), md(d.mac)]
    counts = [f"{d.packets:,}", bytes_text(d.bytes), f"{d.flows:,}", f"{d.findings:,}"]
    return ident + counts + [iso_utc(d.first_ts), iso_utc(d.last_ts)]


def _verdict_cell(n: int) -> str:
    return "-" if n == 0 else human_bytes(n)


def _read(result: AuditResult) -> str:
    """What was read: inputs (with their errors), mirror sessions, totals."""
    rows = []
    for n, inp in enumerate(result.inputs, 1):
        problems = input_problems(inp)
        status = "**" + ", ".join(problems) + "**" if problems else "ok"
        ident = [str(n), md(inp.path), md(inp.format)]
        counts = [f"{inp.packets:,}", bytes_text(inp.bytes)]
        rows.append([*ident, *counts, iso_utc(inp.first_ts), iso_utc(inp.last_ts), status])
    header = ["#", "path", "format", "packets", "bytes", "first packet", "last packet", "status"]
    out = ["## What was read", "", "### Inputs", "", _table(header, rows, "r..rr")]
    for n, inp in enumerate(result.inputs, 1):
        out += ["", f"**Errors in input {n}** ({md(inp.path)}):", ""] if inp.errors else []
        out += [f"- {md(err)}" for err in inp.errors]
    mirror = [[md(cell) for cell in row] for row in mirror_rows(result)]
    if mirror:
        out += ["", "### Mirror sessions", "", MIRROR_NOTE, ""]
        out.append(_table(MIRROR_HEADER, mirror, "...rr"))
    totals = [f"{result.packets:,}", bytes_text(result.bytes), f"{result.flow_count:,}"]
    totals += [f"{len(result.devices):,}", f"{len(result.findings):,}"]
    out += ["", "### Totals", ""]
    out.append(_table(["packets", "bytes", "flows", "devices", "findings"], [totals], "rrrrr"))
    return "\n".join(out)


def _provenance(result: AuditResult) -> str:
    """Tool, catalog, policy, time, command line, evidence and every input's SHA-256."""
    prov = result.provenance
    if prov is None:
        return ""
    policy = "built-in default"
    if prov.policy_path is not None:
        policy = f"{md(prov.policy_path)} (SHA-256 `{prov.policy_sha256 or 'unreadable'}`)"
    lines = [
        "## Provenance",
        "",
        f"- Tool: cctv-monitor {md(prov.tool_version)}, vendor catalog {md(prov.catalog_version)}",
        f"- Policy: {policy}",
        f"- Generated (UTC): {md(prov.generated)}",
        f"- Command line: {md(' '.join(prov.command_line))}",
    ]
    if prov.evidence_path is not None:
        sha = prov.evidence_sha256 or "unreadable"
        count = f"{prov.evidence_packets or 0:,} packets"
        lines.append(f"- Evidence: {md(prov.evidence_path)}, {count} (SHA-256 `{sha}`)")
    rows = []
    for n, i in enumerate(result.inputs, 1):
        size = "-" if i.size is None else f"{i.size:,}"
        kind = md(i.format) if i.duplicate_of is None else "duplicate, skipped"
        cells = [str(n), md(i.path), size, f"`{i.sha256 or '-'}`", kind]
        rows.append([*cells, iso_utc(i.first_ts), iso_utc(i.last_ts)])
    header = ["#", "input", "bytes", "SHA-256", "format", "first packet", "last packet"]
    return "\n".join([*lines, "", _table(header, rows, "r.r")])
