"""Building blocks of the HTML report: escaping, cells, tables, and the later sections.

The sections here are the evidence behind the answer: devices (facts, conflicts, traffic
by verdict), what was read (inputs, mirror sessions, totals) and provenance.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from monitor.model import AuditResult, DeviceSummary
from monitor.report._common import (
    MIRROR_HEADER,
    MIRROR_NOTE,
    SILENT_NOTE,
    VERDICTS,
    bytes_by_verdict,
    clean_text,
    conflict_text,
    conflicts,
    has_facts,
    human_bytes,
    identified_by,
    input_problems,
    iso_utc,
    mirror_rows,
    plural,
    silent_overflow_text,
    silent_rows,
    sorted_devices,
)
from monitor.report.answer import addresses

SHORT_NAME = 20  # device names up to this long never wrap (cam-hansa-01 stays whole)
VERDICT_COLORS = {
    "internal": "#8fb3d9",
    "service": "#9ccf9c",
    "discovery": "#d6c36b",
    "egress": "#e0663e",
    "vendor_cloud": "#b8233a",
    "inbound": "#7b3fa0",
}


def h(value: object) -> str:
    """Untrusted text as HTML: control characters replaced, then ``html.escape``; ``-`` if empty."""
    return html.escape(clean_text(value), quote=True) if value not in (None, "") else "-"


@dataclass(frozen=True, slots=True)
class Clock:
    """How times are shown: without their date when the whole capture is on one UTC day
    (the date then stands in the column header), else as ISO 8601 UTC."""

    day: str | None

    @classmethod
    def of(cls, result: AuditResult) -> Clock:
        """The clock for ``result``'s capture span."""
        firsts = [i.first_ts for i in result.inputs if i.first_ts is not None]
        lasts = [i.last_ts for i in result.inputs if i.last_ts is not None]
        if not firsts or not lasts:
            return cls(None)
        day, last_day = iso_utc(min(firsts))[:10], iso_utc(max(lasts))[:10]
        return cls(day if day == last_day and len(day) == 10 else None)

    def header(self, what: str) -> str:
        """``first / last (UTC, 2026-03-02)`` or ``first / last (UTC)``."""
        return f"{what} (UTC, {self.day})" if self.day else f"{what} (UTC)"

    def cell(self, ts: float | None) -> str:
        """``08:01:11.000`` on the clock's day; else ISO 8601 that may break after the date."""
        iso = iso_utc(ts)
        if self.day and iso.startswith(self.day + "T"):
            return iso[11:].rstrip("Z")
        return iso.replace("T", "T<wbr>", 1)

    def span(self, first: float | None, last: float | None) -> str:
        """First and last time, one per line."""
        return f"{self.cell(first)}<br>{self.cell(last)}"


def bytes_cell(n: int) -> str:
    """Exact bytes, and the human size under them when it says more."""
    return f"{n:,} B" if abs(n) < 1024 else f"{n:,} B<br><small>{human_bytes(n)}</small>"


def addr(ip: str | None) -> str:
    """An address as HTML; an IPv6 address may break after a colon, an IPv4 one never."""
    return h(ip).replace(":", ":<wbr>") if ip and ":" in ip else h(ip)


def device_cell(ip: str, name: str | None) -> str:
    """The address, and the inventory name under it (kept on one line when short)."""
    if not name:
        return addr(ip)
    if len(name) <= SHORT_NAME:
        return f'{addr(ip)}<br><small class="nw">{h(name)}</small>'
    return f"{addr(ip)}<br><small>{any_break(name)}</small>"


def any_break(value: object) -> str:
    """Packet text that may break anywhere when it does not fit (long names, serials)."""
    return f'<span class="any">{h(value)}</span>' if value not in (None, "") else "-"


def table(header: list[str], rows: list[list[str]], kinds: str = "") -> str:
    """A table; ``kinds`` has a character per column: ``r`` numeric, ``t`` time, else text.

    Header and cells are HTML already (escape with :func:`h`).
    """
    classes = {"r": ' class="num"', "t": ' class="time"'}
    cls = [classes.get(kinds[i : i + 1], "") for i in range(len(header))]
    head = "".join(f"<th{c}>{t}</th>" for c, t in zip(cls, header, strict=True))
    lines = ["<table>", f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for row in rows:
        cells = "".join(f"<td{c}>{cell}</td>" for c, cell in zip(cls, row, strict=True))
        lines.append(f"<tr>{cells}</tr>")
    return "\n".join([*lines, "</tbody>", "</table>"])


def devices_section(result: AuditResult, clock: Clock) -> str:
    """Every closed-network device: identity, counts, facts, conflicts, bytes by verdict."""
    devices = sorted_devices(result)
    out = ['<section id="devices">', "<h2>Devices</h2>"]
    if not devices:
        empty = "<p>No closed-network device was seen.</p>"
        return "\n".join([*out, empty, *_silent(result, clock), "</section>"])
    header = ["device", "vendor, model", "role", "MAC", "packets", "bytes", "flows"]
    header += ["findings", clock.header("first / last seen")]
    rows = [_device_row(d, clock) for d in devices]
    out.append(table(header, rows, "....rrrrt"))
    out += _identification(devices)
    out += _conflicts(result)
    out += ["<h3>Traffic by verdict</h3>", _legend()]
    rows = [
        [device_cell(d.ip, d.name), _bar(bytes_by_verdict(d)), _verdict_text(d)] for d in devices
    ]
    out.append(table(["device", "share of bytes", "bytes by verdict"], rows))
    return "\n".join([*out, *_silent(result, clock), "</section>"])


def _silent(result: AuditResult, clock: Clock) -> list[str]:
    rows = silent_rows(result)
    if not rows:
        return []
    header = ["address", "packets received", "bytes received", "flows", "findings"]
    header += [clock.header("first / last seen")]
    cells = [
        [addr(ip), f"{p:,}", bytes_cell(b), f"{fl:,}", f"{fi:,}", clock.span(a, z)]
        for ip, p, b, fl, fi, a, z in rows
    ]
    out = ["<h3>Silent hosts</h3>", f"<p>{h(SILENT_NOTE)}</p>", table(header, cells, ".rrrrt")]
    more = silent_overflow_text(result)
    return out + ([f"<p>{h(more)}</p>"] if more else [])


def _device_row(d: DeviceSummary, clock: Clock) -> list[str]:
    made = ", ".join(any_break(x) for x in (d.vendor, d.model) if x) or "-"
    cell = device_cell(d.ip, d.name)
    also = addresses(d)[1:]
    if also:
        cell += "<br><small>also " + ", ".join(addr(a) for a in also) + "</small>"
    ident = [cell, made, h(d.role), h(d.mac)]
    counts = [f"{d.packets:,}", bytes_cell(d.bytes), f"{d.flows:,}", f"{d.findings:,}"]
    return [*ident, *counts, clock.span(d.first_ts, d.last_ts)]


def _identification(devices: list[DeviceSummary]) -> list[str]:
    """What the traffic told about each device, and the strongest evidence for it."""
    known = [d for d in devices if has_facts(d)]
    if not known:
        return []
    header = ["device", "firmware", "serial", "host name", "answers on", "identified by"]
    fields = [(d.firmware, d.serial, d.hostname, ", ".join(d.services)) for d in known]
    rows = [
        [device_cell(d.ip, d.name), *map(any_break, row), any_break(identified_by(d))]
        for row, d in zip(fields, known, strict=True)
    ]
    return ["<h3>Device facts from traffic</h3>", table(header, rows)]


def _conflicts(result: AuditResult) -> list[str]:
    found = conflicts(result)
    if not found:
        return []
    items = "".join(f"<li>{h(d.ip)} ({h(d.name)}): {h(conflict_text(c))}</li>" for d, c in found)
    intro = "<p>The site inventory wins; the traffic says otherwise:</p>"
    return ['<h3 class="bad">Inventory conflicts</h3>', intro, f"<ul>{items}</ul>"]


def _legend() -> str:
    keys = "".join(f'<span class="v-{v}"></span>{v}' for v in VERDICTS)
    return f'<p class="legend">{keys}</p>'


def _bar(by_verdict: dict[str, int]) -> str:
    """Segments sized by share; any non-zero share stays visible (min width)."""
    total = sum(by_verdict.values())
    segments = []
    for verdict, n in by_verdict.items():
        if n > 0 and total > 0:
            share = 100.0 * n / total
            title = h(f"{verdict}: {human_bytes(n)} ({share:.3g}%)")
            style = f"flex: 0 1 {share:.4f}%"
            segments.append(f'<span class="v-{h(verdict)}" style="{style}" title="{title}"></span>')
    return f'<div class="bar">{"".join(segments)}</div>'


def _verdict_text(d: DeviceSummary) -> str:
    parts = [f"{h(v)}: {human_bytes(n)}" for v, n in bytes_by_verdict(d).items() if n > 0]
    return ", ".join(parts) or "-"


def read_section(result: AuditResult, clock: Clock) -> str:
    """What was read: every input with its problems, mirror sessions, totals."""
    rows = []
    for n, inp in enumerate(result.inputs, 1):
        problems = input_problems(inp)
        status = f'<span class="bad">{h(", ".join(problems))}</span>' if problems else "ok"
        ident = [str(n), any_break(inp.path), h(inp.format)]
        counts = [f"{inp.packets:,}", bytes_cell(inp.bytes)]
        rows.append([*ident, *counts, clock.span(inp.first_ts, inp.last_ts), status])
    header = ["#", "path", "format", "packets", "bytes", clock.header("first / last packet")]
    header.append("status")
    out = ['<section id="inputs">', "<h2>What was read</h2>", table(header, rows, "r..rrt")]
    for n, inp in enumerate(result.inputs, 1):
        if inp.errors:
            out.append(f"<p><strong>Errors in input {n}</strong> ({h(inp.path)}):</p>")
            out.append("<ul>" + "".join(f"<li>{h(e)}</li>" for e in inp.errors) + "</ul>")
    mirror = [[h(cell) for cell in row] for row in mirror_rows(result)]
    if mirror:
        out += ["<h3>Mirror sessions</h3>", f"<p>{h(MIRROR_NOTE)}</p>"]
        out.append(table(MIRROR_HEADER, mirror, "...rrtt"))
    totals = [f"{result.packets:,}", bytes_cell(result.bytes), f"{result.flow_count:,}"]
    totals += [f"{len(result.devices):,}", f"{len(result.findings):,}"]
    out += ["<h3>Totals</h3>"]
    out.append(table(["packets", "bytes", "flows", "devices", "findings"], [totals], "rrrrr"))
    return "\n".join([*out, "</section>"])


def code(value: object) -> str:
    """Verbatim text (hashes, command lines) that may break anywhere."""
    return f'<code class="any">{h(value)}</code>'


def provenance_section(result: AuditResult) -> str:
    """Where the report comes from: tool, catalog, policy, time, command line, evidence,
    and every input's size and SHA-256 (the same as the Markdown report's provenance)."""
    prov = getattr(result, "provenance", None)
    if prov is None:
        return ""
    policy = "built-in default"
    if prov.policy_path is not None:
        sha = code(prov.policy_sha256 or "unreadable")
        policy = f"{any_break(prov.policy_path)} (SHA-256 {sha})"
    tool = f"cctv-monitor {h(prov.tool_version)}, vendor catalog {h(prov.catalog_version)}"
    facts = [("tool", tool), ("policy", policy), ("generated (UTC)", h(prov.generated))]
    facts.append(("command line", code(" ".join(prov.command_line))))
    if prov.evidence_path is not None:
        sha = code(prov.evidence_sha256 or "unreadable")
        count = plural(prov.evidence_packets or 0, "packet")
        facts.append(("evidence", f"{any_break(prov.evidence_path)}, {count} (SHA-256 {sha})"))
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    out = ['<section id="provenance">', "<h2>Provenance</h2>", f"<table>{rows}</table>"]
    inputs = []
    for n, i in enumerate(result.inputs, 1):
        size = getattr(i, "size", None)
        kind = h(i.format) if getattr(i, "duplicate_of", None) is None else "duplicate, skipped"
        sha = code(getattr(i, "sha256", None))
        inputs.append([str(n), any_break(i.path), "-" if size is None else f"{size:,}", sha, kind])
    out.append(table(["#", "input", "bytes", "SHA-256", "format"], inputs, "r.r.."))
    return "\n".join([*out, "</section>"])
