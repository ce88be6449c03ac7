"""The report as one self-contained, printable HTML file (``--report FILE.html``).

Order: the answer to "is the closed network closed?" (devices that crossed it, vendor
endpoints, bytes sent out, first and last time, warnings), then a timeline of findings per
device and a chart of bytes sent outside per device (inline SVG), then the evidence: one
findings table per kind, the devices, what was read, provenance. No script, nothing
external (the CSP forbids both); it reads without CSS too, fits 1024 px wide and prints on
A4 portrait.
"""

from __future__ import annotations

from monitor.model import AuditResult, Finding, FindingKind
from monitor.report import svg_charts
from monitor.report._common import (
    KIND_MEANING,
    PEER_HEADER,
    caveats,
    count_by_kind,
    devices_per_kind,
    finding_key,
    headline,
    human_bytes,
    ip_key,
    peer_text,
    plural,
    port_text,
)
from monitor.report.answer import (
    CROSSING_VERDICTS,
    Answer,
    answer,
    answer_sentences,
    capture_span,
)
from monitor.report.html_parts import (
    VERDICT_COLORS,
    Clock,
    addr,
    any_break,
    bytes_cell,
    device_cell,
    devices_section,
    h,
    provenance_section,
    read_section,
    table,
)

__all__ = ["h", "render_html"]

# Nothing may load or run: the policy holds even if a value ever escaped unescaped.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"
KIND_COLORS = {
    "egress": "#e0663e",
    "vendor_cloud": "#b8233a",
    "vendor_lookup": "#d99a00",
    "external_resolver": "#2f7fc1",
    "upnp_port_mapping": "#3d9a50",
    "inbound": "#7b3fa0",
}
_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Arial, sans-serif; color: #1a1a1a;
  margin: 1.5em auto; max-width: 1200px; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
h2, h3, h4, h3 + p { break-after: avoid; page-break-after: avoid; }
table { border-collapse: collapse; margin: .5em 0 1em; width: 100%; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .45em; text-align: left; vertical-align: top;
  overflow-wrap: break-word; } .any { overflow-wrap: anywhere; } .nw { white-space: nowrap; }
th { background: #f0f0f0; } tr { break-inside: avoid; page-break-inside: avoid; }
td.num, th.num { text-align: right; white-space: nowrap; overflow-wrap: normal; }
td.time { overflow-wrap: normal; } small { color: #555; } code { font-size: .95em; }
.verdict { padding: .5em .9em; border-radius: 4px; margin: .6em 0; }
.verdict p { margin: .2em 0; } .verdict .answer { font-size: 1.3em; font-weight: bold; }
.verdict.clean { background: #e3f4e3; border: 2px solid #2e7d32; color: #1b5e20; }
.verdict.findings { background: #fbe4e4; border: 2px solid #b71c1c; color: #7f0000; }
.verdict.no_data { background: #f1f1f1; border: 2px solid #666; color: #333; }
.warn { background: #fff4d6; border-left: 4px solid #e0a000; padding: .4em .8em; }
.bad { color: #b71c1c; font-weight: bold; }
figure { margin: .5em 0 1.2em; } figcaption { color: #555; font-size: .9em; }
svg.chart { display: block; max-width: 100%; height: auto; break-inside: avoid; }
.bar { display: flex; width: 100%; min-width: 8em; height: 1em; background: #eee; }
.bar span { display: block; height: 100%; min-width: 4px; }
.legend span { display: inline-block; width: .9em; height: .9em; margin: 0 .3em 0 1em;
  vertical-align: middle; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@page { size: A4 portrait; margin: 12mm; }
@media print { body { margin: 0; max-width: none; padding: 0; font-size: 10px; }
  h2 { margin-top: 1em; } table { font-size: .95em; } }
"""


def render_html(result: AuditResult) -> str:
    """The whole report as one HTML document with inline CSS and nothing external."""
    title = f"cctv-monitor audit report: {h(result.site)}"
    ans, clock = answer(result), Clock.of(result)
    body = [
        f"<h1>{title}</h1>",
        _answer(result, ans, clock),
        _charts(result, ans),
        _findings(result, clock),
        devices_section(result, clock),
        read_section(result, clock),
        provenance_section(result),
    ]
    colors = "\n".join(f".v-{v} {{ background: {c}; }}" for v, c in VERDICT_COLORS.items())
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{_CSS}{colors}\n</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )


def _answer(result: AuditResult, ans: Answer, clock: Clock) -> str:
    """The question, the answer in sentences, warnings, and who crossed, to where."""
    first, *rest = answer_sentences(result, ans)
    out = ['<section id="answer">', "<h2>Is the closed network closed?</h2>"]
    out.append(f'<div class="verdict {h(result.verdict)}">')
    out.append(f'<p class="answer">{h(first)}</p>\n<p class="headline">{h(headline(result))}</p>')
    out.append("</div>")
    out += [f"<p>{h(sentence)}</p>" for sentence in rest]
    out += [f'<p class="warn"><strong>Warning:</strong> {h(n)}</p>' for n in caveats(result)]
    if ans.devices:
        out.append("<h3>Devices that exchanged traffic with the outside</h3>")
        out.append(_crossing_table(ans, clock))
    if ans.endpoints:
        out += ["<h3>Vendor endpoints</h3>", _endpoint_table(ans, clock)]
    return "\n".join([*out, "</section>"])


def _crossing_table(ans: Answer, clock: Clock) -> str:
    header = ["device", "findings", "vendor endpoints reached", "outside addresses"]
    header += ["bytes sent out", "bytes both ways", clock.header("first / last")]
    rows = [
        [
            device_cell(d.ip, d.name),
            ", ".join(f"<code>{h(k)}</code>" for k in d.kinds) or "-",
            any_break(", ".join(d.endpoints)),
            f"{d.peers:,}",
            bytes_cell(d.sent),
            bytes_cell(d.exchanged),
            clock.span(d.first_ts, d.last_ts),
        ]
        for d in ans.devices
    ]
    return table(header, rows, "...rrrt")


def _endpoint_table(ans: Answer, clock: Clock) -> str:
    header = ["endpoint", "vendor", "names seen", "devices", "reached", "flows", "bytes"]
    header.append(clock.header("first / last"))
    rows = [
        [
            any_break(u.endpoint),
            h(u.vendor),
            any_break(", ".join(u.names)),
            ", ".join(addr(d) for d in u.devices),
            "yes" if u.reached else "looked up only",
            f"{u.flows:,}",
            bytes_cell(u.bytes),
            clock.span(u.first_ts, u.last_ts),
        ]
        for u in ans.endpoints
    ]
    return table(header, rows, ".....rrt")


def _charts(result: AuditResult, ans: Answer) -> str:
    """The timeline of findings and the bytes sent outside, when there is anything to draw."""
    if not result.findings:
        return ""
    names = {d.ip: d.name for d in result.devices}
    span = capture_span(result)
    t0 = span[0] if span else min(f.first_ts for f in result.findings)
    t1 = span[1] if span else max(f.last_ts for f in result.findings)
    rows: dict[str, svg_charts.TimelineRow] = {}
    for f in sorted(result.findings, key=lambda f: (ip_key(f.device), finding_key(f))):
        label = " ".join(x for x in (f.device, names.get(f.device)) if x)
        row = rows.setdefault(f.device, svg_charts.TimelineRow(label))
        row.spans.append((str(f.kind), f.first_ts, f.last_ts))
    present = {str(f.kind) for f in result.findings}
    colors = {k: c for k, c in KIND_COLORS.items() if k in present}
    out = ['<section id="charts">', "<h2>When, and how much left</h2>"]
    out += ["<h3>Findings per device over time</h3>", "<figure>"]
    out.append(svg_charts.timeline(list(rows.values()), t0, t1, colors, "Findings over time"))
    out.append(
        "<figcaption>Findings per device over the capture time (UTC): one row per device, "
        "one coloured lane per kind of finding, each mark from a finding's first to its "
        "last packet.</figcaption>\n</figure>"
    )
    out += _sent_chart(ans)
    return "\n".join([*out, "</section>"])


def _sent_chart(ans: Answer) -> list[str]:
    senders = [d for d in ans.devices if d.sent > 0]
    if not senders:
        return []
    bars = []
    for d in sorted(senders, key=lambda d: (-d.sent, ip_key(d.ip))):
        parts = {v: d.sent_by_verdict.get(v, 0) for v in CROSSING_VERDICTS}
        note = f"{human_bytes(d.sent)} sent"
        bars.append(svg_charts.BarRow(" ".join(x for x in (d.ip, d.name) if x), parts, note))
    colors = {v: VERDICT_COLORS[v] for v in CROSSING_VERDICTS}
    chart = svg_charts.bars(bars, colors, "Bytes sent outside per device")
    caption = (
        "<figcaption>Bytes each device sent to addresses outside the closed network, by the "
        "verdict of the flows that carried them (answers coming back are not counted)."
        "</figcaption>"
    )
    return ["<h3>Bytes sent outside per device</h3>", "<figure>", chart, caption, "</figure>"]


def _findings(result: AuditResult, clock: Clock) -> str:
    """One table per kind of finding, with the evidence in words."""
    out = ['<section id="findings">', "<h2>Findings by kind</h2>"]
    counts, devices = count_by_kind(result.findings), devices_per_kind(result.findings)
    rows = [
        [f"<code>{kind}</code>", h(meaning), f"{counts[kind]:,}", f"{devices[kind]:,}"]
        for kind, meaning in KIND_MEANING.items()
    ]
    out.append(table(["kind", "meaning", "findings", "devices"], rows, "..rr"))
    if not result.findings:
        return "\n".join([*out, "<p>None.</p>", "</section>"])
    names = {d.ip: d.name for d in result.devices}
    for kind in FindingKind:
        found = sorted(
            (f for f in result.findings if f.kind == kind),
            key=lambda f: (ip_key(f.device), finding_key(f)),
        )
        if not found:
            continue
        summary = f"{plural(len(found), 'finding')} on {plural(devices[kind], 'device')}"
        out.append(f'<h3 id="kind-{kind}"><code>{kind}</code>: {h(KIND_MEANING[kind])}</h3>')
        out.append(f"<p>{summary}.</p>")
        out.append(_kind_table(kind, found, names, clock))
    return "\n".join([*out, "</section>"])


def _kind_table(
    kind: FindingKind, found: list[Finding], names: dict[str, str | None], clock: Clock
) -> str:
    vendor = any(f.endpoint for f in found)
    header = ["device", PEER_HEADER.get(kind, "peer")]
    header += ["vendor endpoint"] if vendor else []
    header += ["answered", clock.header("first / last"), "flows", "packets", "bytes"]
    header.append("evidence")
    rows = []
    for f in found:
        row = [device_cell(f.device, names.get(f.device)), _peer_cell(f)]
        row += [_endpoint_cell(f)] if vendor else []
        row += ["yes" if f.answered else '<span class="bad">no</span>']
        row += [clock.span(f.first_ts, f.last_ts), f"{f.flows:,}", f"{f.packets:,}"]
        row += [bytes_cell(f.bytes), any_break(f.evidence)]
        rows.append(row)
    return table(header, rows, ("...." if vendor else "...") + "trrr.")


def _peer_cell(f: Finding) -> str:
    """The peer and its port; the name it goes by or the name that was asked for."""
    peer = addr(f.peer) if not f.is_summary else h(peer_text(f))
    where = f"{peer}<br><small>{h(port_text(f))}</small>"
    asked = getattr(f, "query_name", None)
    if f.kind in (FindingKind.VENDOR_LOOKUP, FindingKind.EXTERNAL_RESOLVER) and asked:
        return f"{where}<br>asked for {any_break(asked)}"
    return f"{where}<br>{any_break(f.peer_name)}" if f.peer_name else where


def _endpoint_cell(f: Finding) -> str:
    if not f.endpoint:
        return "-"
    return any_break(f.endpoint) + (f"<br><small>{h(f.vendor)}</small>" if f.vendor else "")
