"""Whole-line appends and the alert log's wait for disk space: nothing torn, nothing lost
silently."""

from __future__ import annotations

import errno
import json
import logging
import os
import threading
from pathlib import Path

import pytest

from monitor.capture.durable import AppendError, append_whole, open_append, repair_line_tail
from monitor.live.sink import RETRY_SECONDS, LineSink
from tests.fulldisk import FullDisk


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def line(i: int, pad: int = 40) -> bytes:
    return (json.dumps({"n": i, "pad": "x" * pad}) + "\n").encode()


def numbers(path: Path) -> list[int]:
    text = path.read_text()
    assert text == "" or text.endswith("\n"), "the file ends in a whole line"
    return [json.loads(row)["n"] for row in text.splitlines()]


# -- append_whole -------------------------------------------------------------------------
def test_a_short_write_is_cut_back_to_the_last_whole_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    fd = open_append(path)
    append_whole(fd, b"old\n")
    disk = FullDisk(monkeypatch, tmp_path, free=9)
    with pytest.raises(AppendError) as failed:
        append_whole(fd, b"aaa\nbbb\nccc\n", ends=[4, 8, 12])
    assert failed.value.kept == 2 and failed.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"old\naaa\nbbb\n", "the torn 'c' is gone"
    with pytest.raises(AppendError) as refused:
        append_whole(fd, b"ddd\n")
    assert refused.value.kept == 0 and path.read_bytes() == b"old\naaa\nbbb\n"
    disk.free = None
    append_whole(fd, b"eee\n")
    assert path.read_bytes() == b"old\naaa\nbbb\neee\n"
    os.close(fd)


def test_a_single_record_is_whole_or_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    fd = open_append(path)
    FullDisk(monkeypatch, tmp_path, free=3)
    with pytest.raises(AppendError):
        append_whole(fd, b"0123456789\n")
    assert path.read_bytes() == b""
    os.close(fd)


@pytest.mark.parametrize(
    ("before", "after", "removed"),
    [
        (b"", b"", 0),
        (b'{"a":1}\n', b'{"a":1}\n', 0),
        (b'{"a":1}\n{"b":', b'{"a":1}\n', 5),
        (b'{"a":1}\n{"b":2}\n\0\0\0\0', b'{"a":1}\n{"b":2}\n', 4),  # zeros of a power loss
        (b'{"torn', b"", 6),
    ],
)
def test_a_torn_last_line_is_removed_at_open(
    tmp_path: Path, before: bytes, after: bytes, removed: int
) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_bytes(before)
    fd = open_append(path)
    assert repair_line_tail(fd, "test") == removed
    os.close(fd)
    assert path.read_bytes() == after


def test_a_long_line_without_newline_is_ended_not_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("monitor.capture.durable.TAIL_SEARCH_BYTES", 64)
    path = tmp_path / "f"
    path.write_bytes(b"first\n" + b"y" * 100)
    fd = open_append(path)
    assert repair_line_tail(fd, "test") == 0
    os.close(fd)
    assert path.read_bytes() == b"first\n" + b"y" * 100 + b"\n"


# -- LineSink -----------------------------------------------------------------------------
def test_lines_wait_while_the_disk_is_full_and_go_out_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "alerts.jsonl"
    clock = Clock()
    sink = LineSink(str(path), "alert log", clock=clock)
    sink.put(line(0))
    disk = FullDisk(monkeypatch, tmp_path, free=len(line(1)) + 10)
    with caplog.at_level(logging.WARNING, "monitor.live.sink"):
        for i in range(1, 6):
            sink.put(line(i), weight=i)
        assert numbers(path) == [0, 1] and sink.waiting == 4
        assert sink.write_errors == 1, "a line waits behind the first failure, not retried"
        assert "write failed" in caplog.text and "No space left on device" in caplog.text
        clock.now += RETRY_SECONDS
        sink.retry()
        assert sink.write_errors == 2 and sink.waiting == 4  # still full
        disk.free = None
        sink.retry()  # too early: the timer says when
        assert sink.waiting == 4
        clock.now += RETRY_SECONDS
        sink.retry()
        assert numbers(path) == [0, 1, 2, 3, 4, 5] and sink.waiting == 0
        assert "writing again after 2 s" in caplog.text
    sink.close()
    assert (sink.written, sink.lost_lines, sink.lost_weight) == (6, 0, 0)


def test_the_wait_is_bounded_and_the_newest_lines_are_lost_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "alerts.jsonl"
    clock = Clock()
    sink = LineSink(str(path), "alert log", max_lines=3, clock=clock)
    disk = FullDisk(monkeypatch, tmp_path, free=0)
    for i in range(10):
        sink.put(line(i), weight=2)
    assert sink.waiting == 3 and (sink.lost_lines, sink.lost_weight) == (7, 14)
    disk.free = None
    clock.now += RETRY_SECONDS
    sink.put(line(10))  # the timer is due: what waited goes first, then this one
    assert numbers(path) == [0, 1, 2, 10]
    sink.close()
    assert sink.written == 4 and sink.lost_lines == 7
    summary = sink.summary()
    assert "4 lines in" in summary and "7 lost to write errors (14 findings" in summary


def test_the_byte_bound_holds_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = LineSink(str(tmp_path / "a"), "alert log", max_bytes=3 * len(line(0)), clock=Clock())
    FullDisk(monkeypatch, tmp_path, free=0)
    for i in range(5):
        sink.put(line(i))
    assert sink.waiting == 3 and sink.lost_lines == 2


def test_what_still_waits_at_close_is_lost_counted_and_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "alerts.jsonl"
    sink = LineSink(str(path), "alert log", clock=Clock())
    FullDisk(monkeypatch, tmp_path, free=len(line(0)) + len(line(1)) // 2)
    for i in range(4):
        sink.put(line(i), weight=5)
    with caplog.at_level(logging.ERROR, "monitor.live.sink"):
        sink.close()
    assert numbers(path) == [0]
    assert (sink.written, sink.lost_lines, sink.lost_weight) == (1, 3, 15)
    assert "3 lines (15 findings) could not be written before the stop" in caplog.text
    sink.put(line(9), weight=2)  # after close: counted, never written
    assert sink.lost_weight == 17


def test_a_retry_that_gets_part_through_keeps_the_whole_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "alerts.jsonl"
    clock = Clock()
    sink = LineSink(str(path), "alert log", clock=clock)
    disk = FullDisk(monkeypatch, tmp_path, free=0)
    for i in range(5):
        sink.put(line(i))
    disk.free = 2 * len(line(0)) + 5  # space for two and a bit
    clock.now += RETRY_SECONDS
    sink.retry()
    assert numbers(path) == [0, 1] and sink.waiting == 3
    disk.free = None
    clock.now += RETRY_SECONDS
    sink.retry()
    assert numbers(path) == [0, 1, 2, 3, 4]


def test_the_sink_opens_in_append_mode_and_repairs_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_bytes(line(0) + line(1)[:9])
    sink = LineSink(str(path), "alert log")
    sink.put(line(2))
    sink.close()
    assert numbers(path) == [0, 2], "the torn line is gone, the new one is not glued to it"


def test_a_pipe_gets_every_line_whole(tmp_path: Path) -> None:
    """``--alerts /dev/stdout`` under a supervisor that reads a pipe: nothing to cut back,
    lines longer than the pipe's buffer still arrive whole."""
    read_end, write_end = os.pipe()
    sink = LineSink(f"/proc/self/fd/{write_end}", "alert log")
    big = line(1, pad=200_000)  # more than a pipe holds at once: written in parts
    got = bytearray()
    reader = threading.Thread(target=lambda: got.extend(_read_all(read_end)))
    reader.start()
    sink.put(line(0))
    sink.put(big)
    sink.close()
    os.close(write_end)
    reader.join(timeout=10)
    os.close(read_end)
    assert bytes(got) == line(0) + big
    assert (sink.written, sink.write_errors, sink.lost_lines) == (2, 0, 0)


def _read_all(fd: int) -> bytes:
    parts = []
    while chunk := os.read(fd, 65536):
        parts.append(chunk)
    return b"".join(parts)
