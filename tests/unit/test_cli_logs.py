"""monitor.commands.logs: the log level from -v/-q, each warning shown once."""

from __future__ import annotations

import io
import logging

import pytest

from monitor.commands import logs
from monitor.commands.logs import OnceFilter, log_level, report_suppressed, setup_logging


@pytest.mark.parametrize(
    ("default", "verbose", "quiet", "want"),
    [
        (logging.WARNING, 0, False, logging.WARNING),
        (logging.WARNING, 1, False, logging.INFO),
        (logging.WARNING, 5, False, logging.DEBUG),
        (logging.WARNING, 0, True, logging.ERROR),
        (logging.INFO, 0, False, logging.INFO),  # live
        (logging.INFO, 0, True, logging.WARNING),
        (logging.INFO, 1, False, logging.DEBUG),
    ],
)
def test_log_level(default: int, verbose: int, quiet: bool, want: int) -> None:
    assert log_level(default, verbose, quiet) == want


def _record(msg: str, *args: object, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord("monitor.x", level, __file__, 1, msg, args, None)


def test_a_warning_shows_once_per_run() -> None:
    once = OnceFilter()
    assert once.filter(_record("%s: cut short", "a.pcap"))
    assert not once.filter(_record("a.pcap: cut short"))  # same text, however built
    assert once.filter(_record("%s: cut short", "b.pcap"))
    assert not once.filter(_record("%s: cut short", "a.pcap"))
    assert once.filter(_record("a.pcap: cut short", level=logging.ERROR))  # other level
    assert all(once.filter(_record("tick", level=logging.INFO)) for _ in range(3))
    assert once.suppressed == 2


def test_with_a_window_a_repeat_shows_again_and_says_how_often_it_was_held() -> None:
    now = [0.0]
    once = OnceFilter(window=60.0, clock=lambda: now[0])
    assert once.filter(_record("interface %s is down", "span0"))
    for t in (1.0, 30.0, 59.0):
        now[0] = t
        assert not once.filter(_record("interface %s is down", "span0"))
    now[0] = 70.0
    again = _record("interface %s is down", "span0")
    assert once.filter(again)
    assert again.getMessage() == "interface span0 is down (held back 3 times before)"
    now[0] = 200.0
    last = _record("interface %s is down", "span0")
    assert once.filter(last) and last.getMessage() == "interface span0 is down"


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_REMEMBERED", 10)
    once = OnceFilter()
    for i in range(100):
        assert once.filter(_record("distinct %d", i))
    assert len(once._shown) == 10
    assert once.filter(_record("distinct %d", 0))  # long forgotten


def test_setup_replaces_its_own_handler_and_counts_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        setup_logging(logging.WARNING)
        once = setup_logging(logging.WARNING)  # a second run in one process: one handler
        mine = [h for h in root.handlers if isinstance(h, logs._StderrHandler)]
        assert len(mine) == 1
        assert [h for h in root.handlers if h not in mine] == [
            h for h in before if not isinstance(h, logs._StderrHandler)
        ]  # a test's capture handlers stay
        log = logging.getLogger("monitor.test")
        for _ in range(3):
            log.warning("policy: %s", "device 10.0.0.1 listed twice")
        report_suppressed(once)
    finally:
        for h in [h for h in root.handlers if h not in before]:
            root.removeHandler(h)
        for h in before:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(level)
    assert err.getvalue().splitlines() == [
        "cctv-monitor: WARNING: policy: device 10.0.0.1 listed twice",
        "cctv-monitor: WARNING: 2 repeated warnings not shown",
    ]
