"""sd_notify without systemd: messages reach $NOTIFY_SOCKET (a path or an abstract name), and
READY=1 goes out once, the first time every capture worker reads."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.live.notify import Notifier, Readiness


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(5)
    yield sock
    sock.close()


def test_a_datagram_per_message_to_a_path(listener: socket.socket) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": listener.getsockname()})
    notifier.send("READY=1", "STATUS=capturing on eth1 (one process)")
    assert listener.recv(4096) == b"READY=1\nSTATUS=capturing on eth1 (one process)"


def test_an_abstract_socket_when_the_name_starts_with_at() -> None:
    name = f"cctv-test-notify-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        Notifier({"NOTIFY_SOCKET": f"@{name}"}).send("STOPPING=1")
        assert sock.recv(4096) == b"STOPPING=1"


def test_nothing_without_the_variable_and_a_warning_once_when_it_cannot_send(
    tmp_path: Path,
) -> None:
    quiet = Notifier({})
    quiet.send("READY=1")
    assert quiet.sent == []
    broken = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    with _warnings("monitor.live.notify") as records:
        broken.send("READY=1")
        broken.send("STATUS=still nobody")
    assert broken.sent == []
    assert len([r for r in records if "cannot notify" in r.getMessage()]) == 1


@contextlib.contextmanager
def _warnings(name: str) -> Iterator[list[logging.LogRecord]]:
    """The records of logger ``name`` at WARNING and above, whatever earlier tests did to
    the logging configuration (a level, a disabled logger)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger(name)
    saved = logger.level, logger.disabled
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.disabled = False
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.level, logger.disabled = saved


def test_ready_once_every_worker_reads(listener: socket.socket) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": listener.getsockname()})
    ready = Readiness("eth1", 2, notifier)
    ready.update(capturing=1, started=1)
    assert not ready.ready and ready.text == "starting: 1 of 2 capture workers reading eth1"
    ready.update(capturing=2, started=2)
    assert ready.ready and ready.text == "capturing on eth1 (2 workers)"
    ready.update(capturing=2, started=2)  # nothing new: nothing sent
    ready.update(capturing=1, started=1, restarts=1)  # a worker died
    ready.update(capturing=2, started=2, restarts=1)
    ready.stop()
    ready.update(capturing=2, started=2, restarts=1)  # after the stop: silent
    assert notifier.sent == [
        "STATUS=starting: opening the capture on eth1",
        "STATUS=starting: 1 of 2 capture workers reading eth1",
        "READY=1\nSTATUS=capturing on eth1 (2 workers)",
        "STATUS=1 of 2 capture workers reading eth1; 1 worker restart so far",
        "STATUS=capturing on eth1 (2 workers); 1 worker restart so far",
        "STOPPING=1\nSTATUS=stopping: ending flows and writing the last alerts",
    ]
    received = [listener.recv(4096).decode() for _ in notifier.sent]
    assert received == notifier.sent


def test_ready_while_waiting_for_a_link_that_is_down() -> None:
    """Nothing to capture yet: the sensor is up and waiting (cctv_capture_up stays 0)."""
    ready = Readiness("eth1", 1, Notifier({}))
    ready.update(capturing=0, started=1)
    assert ready.ready and ready.text == "waiting for eth1 to come up (one process)"
