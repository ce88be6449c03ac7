"""The report as one self-contained, printable HTML file (``--report FILE.html``)."""

from __future__ import annotations

import html

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

# Nothing may load or run: the policy holds even if a value ever escaped unescaped.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_COLORS = {
    "internal": "#8fb3d9",
    "service": "#9ccf9c",
    "discovery": "#d6c36b",
    "egress": "#e0663e",
    "vendor_cloud": "#b8233a",
    "inbound": "#7b3fa0",
}
_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Arial, sans-serif; color: #1a1a1a;
  margin: 2em auto; max-width: 1200px; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
table { border-collapse: collapse; margin: .5em 0 1em; width: 100%; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } tr { break-inside: avoid; page-break-inside: avoid; }
td.num, th.num { text-align: right; white-space: nowrap; } td.time { white-space: nowrap; }
td.text { word-break: break-word; } code { font-size: .95em; }
.verdict { font-size: 1.3em; font-weight: bold; padding: .5em .8em; border-radius: 4px; }
.verdict.clean { background: #e3f4e3; border: 2px solid #2e7d32; color: #1b5e20; }
.verdict.findings { background: #fbe4e4; border: 2px solid #b71c1c; color: #7f0000; }
.warn { background: #fff4d6; border-left: 4px solid #e0a000; padding: .4em .8em; }
.bad { color: #b71c1c; font-weight: bold; }
.bar { display: flex; width: 100%; min-width: 12em; height: 1em; background: #eee; }
.bar span { display: block; height: 100%; min-width: 4px; }
.legend span { display: inline-block; width: .9em; height: .9em; margin: 0 .3em 0 1em;
  vertical-align: middle; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@media print { body { margin: 0; max-width: none; font-size: 11px; } }
"""


def h(value: object) -> str:
    """Untrusted text as HTML: control characters replaced, then ``html.escape``; ``-`` if empty."""
    return html.escape(clean_text(value), quote=True) if value not in (None, "") else "-"


def render_html(result: AuditResult) -> str:
    """The whole report as one HTML document with inline CSS and nothing external."""
    title = f"cctv-monitor audit report: {h(result.site)}"
    body = [
        _head(result, title),
        _inputs(result),
        _mirror(result),
        _totals(result),
        _kinds(result),
        _devices(result),
        _findings(result),
    ]
    colors = "\n".join(f".v-{v} {{ background: {c}; }}" for v, c in _COLORS.items())
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{_CSS}{colors}\n</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _table(header: list[str], rows: list[list[str]], num: str = "") -> str:
    """A table; ``num`` has a character per column: ``r`` numeric, ``t`` time, else text."""
    classes = {"r": ' class="num"', "t": ' class="time"'}
    cls = [classes.get(num[i : i + 1], "") for i in range(len(header))]
    head = "".join(f"<th{c}>{t}</th>" for c, t in zip(cls, header, strict=True))
    lines = ["<table>", f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for row in rows:
        cells = "".join(_td(c, cell) for c, cell in zip(cls, row, strict=True))
        lines.append(f"<tr>{cells}</tr>")
    return "\n".join([*lines, "</tbody>", "</table>"])


def _td(cls: str, cell: str) -> str:
    return f"<td{cls}>{cell}</td>"


def _head(result: AuditResult, title: str) -> str:
    parts = [f"<header>\n<h1>{title}</h1>"]
    parts.append(f'<p class="verdict {h(result.verdict)}">{h(headline(result))}</p>')
    firsts = [i.first_ts for i in result.inputs if i.first_ts is not None]
    lasts = [i.last_ts for i in result.inputs if i.last_ts is not None]
    if firsts and lasts:
        span = f"{iso_utc(min(firsts))} to {iso_utc(max(lasts))}"
        parts.append(f"<p>Capture time (UTC): {span}</p>")
    parts += [f'<p class="warn"><strong>Warning:</strong> {h(n)}</p>' for n in caveats(result)]
    return "\n".join([*parts, "</header>"])


def _inputs(result: AuditResult) -> str:
    rows = []
    for n, inp in enumerate(result.inputs, 1):
        problems = input_problems(inp)
        status = f'<span class="bad">{h(", ".join(problems))}</span>' if problems else "ok"
        ident = [str(n), h(inp.path), h(inp.format)]
        counts = [f"{inp.packets:,}", h(bytes_text(inp.bytes))]
        rows.append([*ident, *counts, iso_utc(inp.first_ts), iso_utc(inp.last_ts), status])
    header = ["#", "path", "format", "packets", "bytes", "first packet", "last packet", "status"]
    out = ['<section id="inputs">', "<h2>Inputs</h2>", _table(header, rows, "r..rrtt")]
    for n, inp in enumerate(result.inputs, 1):
        if inp.errors:
            out.append(f"<p><strong>Errors in input {n}</strong> ({h(inp.path)}):</p>")
            out.append("<ul>" + "".join(f"<li>{h(e)}</li>" for e in inp.errors) + "</ul>")
    return "\n".join([*out, "</section>"])


def _mirror(result: AuditResult) -> str:
    rows = [[h(cell) for cell in row] for row in mirror_rows(result)]
    if not rows:
        return ""
    table = _table(MIRROR_HEADER, rows, "...rrtt")
    head = f'<section id="mirror">\n<h2>Mirror sessions</h2>\n<p>{h(MIRROR_NOTE)}</p>'
    return f"{head}\n{table}\n</section>"


def _totals(result: AuditResult) -> str:
    row = [f"{result.packets:,}", h(bytes_text(result.bytes)), f"{result.flow_count:,}"]
    row += [f"{len(result.devices):,}", f"{len(result.findings):,}"]
    header = ["packets", "bytes", "flows", "devices", "findings"]
    table = _table(header, [row], "rrrrr")
    return f'<section id="totals">\n<h2>Totals</h2>\n{table}\n</section>'


def _kinds(result: AuditResult) -> str:
    counts = count_by_kind(result.findings)
    devices = devices_per_kind(result.findings)
    rows = [
        [f"<code>{kind}</code>", h(meaning), f"{counts[kind]:,}", f"{devices[kind]:,}"]
        for kind, meaning in KIND_MEANING.items()
    ]
    table = _table(["kind", "meaning", "findings", "devices"], rows, "..rr")
    return f'<section id="kinds">\n<h2>Findings by kind</h2>\n{table}\n</section>'


def _devices(result: AuditResult) -> str:
    devices = sorted_devices(result)
    out = ['<section id="devices">', "<h2>Devices</h2>"]
    if not devices:
        return "\n".join([*out, "<p>No closed-network device was seen.</p>", "</section>"])
    header = ["device", "name", "vendor", "role", "model", "mac", "packets", "bytes", "flows"]
    header += ["findings", "first seen", "last seen"]
    out.append(_table(header, [_device_row(d) for d in devices], "......rrrrtt"))
    out += _identification(devices)
    out += _conflicts(result)
    out += ["<h3>Traffic by verdict</h3>", _legend()]
    rows = [[h(d.ip), _bar(bytes_by_verdict(d)), _verdict_text(d)] for d in devices]
    out.append(_table(["device", "share of bytes", "bytes by verdict"], rows))
    return "\n".join([*out, "</section>"])


def _identification(devices: list[DeviceSummary]) -> list[str]:
    """What the traffic told about each device, and the strongest evidence for it."""
    known = [d for d in devices if has_facts(d)]
    if not known:
        return []
    header = ["device", "firmware", "serial", "host name", "answers on", "identified by"]
    fields = [(d.ip, d.firmware, d.serial, d.hostname, ", ".join(d.services)) for d in known]
    rows = [[*map(h, row), h(identified_by(d))] for row, d in zip(fields, known, strict=True)]
    return ["<h3>Device facts from traffic</h3>", _table(header, rows)]


def _conflicts(result: AuditResult) -> list[str]:
    found = conflicts(result)
    if not found:
        return []
    items = "".join(f"<li>{h(d.ip)} ({h(d.name)}): {h(conflict_text(c))}</li>" for d, c in found)
    intro = "<p>The site inventory wins; the traffic says otherwise:</p>"
    return ['<h3 class="bad">Inventory conflicts</h3>', intro, f"<ul>{items}</ul>"]


def _device_row(d: DeviceSummary) -> list[str]:
    ident = [h(d.ip), h(d.name), h(d.vendor), h(d.role), h(d.model), h(d.mac)]
    counts = [f"{d.packets:,}", h(bytes_text(d.bytes)), f"{d.flows:,}", f"{d.findings:,}"]
    return [*ident, *counts, iso_utc(d.first_ts), iso_utc(d.last_ts)]


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


def _findings(result: AuditResult) -> str:
    out = ['<section id="findings">', "<h2>Findings</h2>"]
    if not result.findings:
        return "\n".join([*out, "<p>None.</p>", "</section>"])
    devices = {d.ip: d for d in result.devices}
    header = ["peer", "port", "peer name", "vendor", "endpoint", "answered"]
    header += ["first (UTC)", "last (UTC)", "packets", "bytes", "evidence"]
    for device, by_kind in grouped_findings(result):
        out.append(f"<h3>{h(device_label(devices, device))}</h3>")
        for kind, findings in by_kind:
            out.append(f"<h4><code>{h(kind)}</code> ({len(findings)})</h4>")
            out.append(_table(header, [_finding_row(f) for f in findings], "......ttrr"))
    return "\n".join([*out, "</section>"])


def _finding_row(f: Finding) -> list[str]:
    return [
        h(peer_text(f)),
        h(port_text(f)),
        h(f.peer_name),
        h(f.vendor),
        h(f.endpoint),
        "yes" if f.answered else '<span class="bad">no</span>',
        iso_utc(f.first_ts),
        iso_utc(f.last_ts),
        f"{f.packets:,}",
        h(bytes_text(f.bytes)),
        h(f.evidence),
    ]
