"""The HTML report in a real browser: headless Chromium lays out and prints the demo report.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages ending in NUL on file descriptors 3 and 4), so the report itself carries no script
and the test needs no extra library. At 1024 and 1400 px nothing may be wider than the
window; laid out for print on A4 portrait nothing may be wider than the page; printed to
PDF the report is A4 portrait and a bounded number of pages; the only request the page
makes is for its own file.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.requirements import require_tool
from tests.waiting import scaled

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
A4_CONTENT_PX = 703  # 210 mm - 2 x 12 mm (the report's @page margin) at 96 px per inch
MAX_PAGES = 16  # the demo report prints on fewer; a layout gone wrong prints on many more
# Measured in the page: overflow of the document and of any element that sticks out.
MEASURE = """JSON.stringify({
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  widest: Math.max(...[...document.querySelectorAll("body *")].map(
    e => e.getBoundingClientRect().right)),
  charts: [...document.querySelectorAll("svg.chart")].map(
    e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height]),
  tables: document.querySelectorAll("table").length,
})"""


# Chromium reads commands from fd 3 and writes answers to fd 4: put the pipe there, then exec.
_AT_3_AND_4 = """import os, sys
r, w = int(sys.argv[1]), int(sys.argv[2])
os.dup2(r, 3); os.dup2(w, 4); os.close(r); os.close(w)
os.execv(sys.argv[3], sys.argv[3:])"""


def _high(fds: tuple[int, int]) -> tuple[int, int]:
    """The pipe's ends moved to fds >= 10, clear of the 3 and 4 Chromium reads and writes."""
    moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds)
    for fd in fds:
        os.close(fd)
    return moved[0], moved[1]


class Chromium:
    """A headless Chromium and one page, spoken to over the DevTools pipe."""

    def __init__(self, exe: str, profile: Path) -> None:
        to_chrome_r, self._out = _high(os.pipe())
        self._in, from_chrome_w = _high(os.pipe())
        self.log = profile / "chromium.log"
        args = [exe, "--headless", "--remote-debugging-pipe", "--disable-gpu", "--no-first-run"]
        args += ["--no-default-browser-check", f"--user-data-dir={profile}", "--hide-scrollbars"]
        args += ["--no-sandbox"] if os.geteuid() == 0 else []  # root cannot use the sandbox
        fds = [str(to_chrome_r), str(from_chrome_w)]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _AT_3_AND_4, *fds, *args, "about:blank"],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next, self._buffer = 0, b""
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Network"):
            self.call(f"{domain}.enable", session=True)

    def call(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        """Send one command and return its result (events seen meanwhile are kept)."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + scaled(60)
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._in], [], [], max(left, 0))
            assert ready, "no answer from Chromium within 60 s"
            chunk = os.read(self._in, 1 << 20)
            assert chunk, f"Chromium ended ({self.proc.poll()}): {self.log.read_text()[-2000:]}"
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(raw))

    def open(self, url: str, width: int, media: str = "screen") -> dict[str, Any]:
        """Load ``url`` in a ``width`` px wide window with ``media`` emulated; measure it."""
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width,
                  height=900, deviceScaleFactor=1, mobile=False)  # fmt: skip
        self.call("Emulation.setEmulatedMedia", session=True, media=media)
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._read())
        return self.evaluate(MEASURE)

    def evaluate(self, expression: str) -> Any:
        """The value of a JSON-returning expression in the page."""
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True)  # fmt: skip
        return json.loads(result["result"]["value"])

    def requests(self) -> list[str]:
        """Every URL the page asked for since the last :meth:`open`."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def pdf(self) -> bytes:
        """The page printed as Chromium prints it, page size from the report's @page."""
        result = self.call("Page.printToPDF", session=True, preferCSSPageSize=True,
                           printBackground=True)  # fmt: skip
        return base64.b64decode(result["data"])

    def close(self) -> None:
        with contextlib.suppress(AssertionError):  # it may close the pipe before answering
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=scaled(30))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._in)
        os.close(self._out)


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report `make demo` writes: the demo capture under the demo site policy."""
    out = tmp_path_factory.mktemp("report") / "demo-report.html"
    run = subprocess.run(
        [sys.executable, "-m", "monitor", "replay", str(PCAPS / "demo_day.pcap.gz"),
         "--config", str(PCAPS / "site.yaml"), "--no-progress", "--report", str(out)],
        capture_output=True, text=True, timeout=scaled(120), cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr  # the demo has findings
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    exe = require_tool("chromium")
    chrome = Chromium(exe, tmp_path_factory.mktemp("chromium-profile"))
    yield chrome
    chrome.close()


@pytest.mark.tools
@pytest.mark.parametrize("width", [1024, 1400])
def test_nothing_is_wider_than_the_window(browser: Chromium, demo_report: Path, width: int) -> None:
    got = browser.open(demo_report.as_uri(), width)
    assert got["tables"] >= 8  # the report really rendered (answer, kinds, devices, inputs)
    assert got["scrollWidth"] <= got["innerWidth"] == width, got
    assert got["widest"] <= width, got
    assert len(got["charts"]) == 2  # the findings timeline and the bytes sent outside
    for chart_width, chart_height in got["charts"]:
        assert 0 < chart_width <= width and chart_height > 80


@pytest.mark.tools
def test_only_the_report_itself_is_loaded(browser: Chromium, demo_report: Path) -> None:
    browser.open(demo_report.as_uri(), 1024)
    assert browser.requests() == [demo_report.as_uri()]


@pytest.mark.tools
def test_print_layout_fits_a4_portrait(browser: Chromium, demo_report: Path) -> None:
    got = browser.open(demo_report.as_uri(), A4_CONTENT_PX, media="print")
    assert got["scrollWidth"] <= got["innerWidth"] == A4_CONTENT_PX, got
    assert got["widest"] <= A4_CONTENT_PX, got


@pytest.mark.tools
def test_prints_to_a_bounded_number_of_a4_pages(browser: Chromium, demo_report: Path) -> None:
    browser.open(demo_report.as_uri(), 1024)
    pdf = browser.pdf()
    assert pdf.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    assert 2 <= pages <= MAX_PAGES, pages
    boxes = {tuple(round(float(v)) for v in m.groups()) for m in re.finditer(
        rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)}  # fmt: skip
    assert boxes == {(595, 842)}, boxes  # A4 portrait in points


@pytest.mark.tools
def test_charts_keep_their_size_without_css(browser: Chromium, demo_report: Path) -> None:
    browser.open(demo_report.as_uri(), 1024)
    got = browser.evaluate(
        'document.querySelectorAll("style").forEach(s => s.remove()); ' + MEASURE
    )
    assert got["scrollWidth"] <= got["innerWidth"], got
    for chart_width, chart_height in got["charts"]:
        assert 0 < chart_width <= 1024 and 80 < chart_height < 1024
