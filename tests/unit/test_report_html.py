"""The HTML report: self-contained, escaped, same content as the Markdown."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from monitor.model import FindingKind
from monitor.report.html import render_html
from tests.unit.report_samples import (
    HOSTILE_NAME,
    HOSTILE_PATH,
    clean_result,
    findings_result,
)

VOID = {"meta", "br", "hr", "img", "link", "input", "col", "wbr"}


class _Tags(HTMLParser):
    """Collects tags, attributes and whether open/close tags balance."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def _parse(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    parser.close()
    return parser


def test_well_formed_document() -> None:
    for result in (clean_result(), findings_result()):
        parsed = _parse(render_html(result))
        assert parsed.errors == [] and parsed.stack == []


def test_hostile_values_are_escaped() -> None:
    text = render_html(findings_result())
    assert HOSTILE_NAME not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert HOSTILE_PATH not in text
    assert "/captures/a&amp;b&quot;&lt;c&gt;.pcap" in text
    assert "truncated &lt;header&gt;" in text
    parsed = _parse(text)
    assert "script" not in {tag for tag, _ in parsed.tags}


def test_no_external_resources_and_nothing_runs() -> None:
    result = findings_result()
    result.findings[0].evidence = "GET http://evil.example/x.js"  # text, not a reference
    text = render_html(result)
    assert "@import" not in text and "url(" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.IGNORECASE)
    assert "<link" not in text and "<script" not in text and "<img" not in text
    assert "default-src 'none'" in text  # CSP: even a slip could not load or run anything
    assert "http" not in render_html(clean_result()).replace("http-equiv", "")


def test_clean_headline() -> None:
    text = render_html(clean_result())
    answer = text.index("<h2>Is the closed network closed?</h2>")
    assert answer < text.index('<div class="verdict clean">') < text.index("<h2>Findings by kind")
    assert "Yes: no traffic crossed the boundary of the closed network.</p>" in text
    assert '<p class="headline">CLEAN: no traffic left the closed network</p>' in text
    assert 'class="warn"' not in text
    assert "<p>None.</p>" in text
    assert "<svg" not in text  # nothing to draw


def test_findings_headline_and_warning() -> None:
    text = render_html(findings_result())
    assert '<div class="verdict findings">' in text
    assert '<p class="headline">FINDINGS: 6 findings on 2 devices' in text
    assert "1 input could not be read completely" in text
    assert '<span class="bad">TRUNCATED, 1 ERROR, 2 undecodable frames</span>' in text


def test_same_content_as_markdown() -> None:
    text = render_html(findings_result())
    for kind in FindingKind:
        assert f"<code>{kind}</code>" in text
    order = [text.index(f'<h3 id="kind-{k}"><code>{k}</code>: ') for k in FindingKind]
    assert order == sorted(order)  # one table per kind, in contract order
    assert '<span class="any">dev.hik-connect.com</span>' in text
    assert '<td class="num">5,000,000 B<br><small>4.8 MiB</small></td>' in text
    # the whole capture is on 2024-05-01: the date stands once in the header, not in every cell
    assert '<th class="time">first / last (UTC, 2024-05-01)</th>' in text
    assert '<td class="time">12:00:10.000<br>12:00:12.250</td>' in text
    assert '<span class="bad">no</span>' in text


def test_traffic_bars_show_small_shares() -> None:
    text = render_html(findings_result())
    assert '<div class="bar">' in text
    egress = re.search(r'<span class="v-egress" style="flex: 0 1 ([0-9.]+)%"', text)
    assert egress is not None and 0 < float(egress.group(1)) < 0.01
    assert ".bar span { display: block; height: 100%; min-width: 4px; }" in text
    assert "egress: 180 B" in text
