"""The workers' pipes: a worker killed in the middle of a message harms no other worker, and a
put never blocks the capture loop, even while the parent does not read."""

from __future__ import annotations

import array
import fcntl
import multiprocessing as mp
import os
import signal
import termios
import time
from multiprocessing.connection import Connection

from monitor.live.channel import Inbox, Outbox
from tests.waiting import wait_until

BIG = 8 << 20  # far more than a pipe holds: the writer is inside the message when killed


def _writer(conn: Connection, big: bool) -> None:
    outbox = Outbox(conn)
    started = time.monotonic()
    outbox.put(("first", os.getpid()))
    if big:
        outbox.put(("big", b"x" * BIG))
    outbox.put(("put returned", time.monotonic() - started))
    if big:
        time.sleep(60)  # killed before this ends
    outbox.close()


def _start(big: bool) -> tuple[mp.process.BaseProcess, Connection]:
    reader, writer = mp.Pipe(duplex=False)
    proc = mp.get_context("fork").Process(target=_writer, args=(writer, big))
    proc.start()
    writer.close()
    return proc, reader


def test_a_worker_killed_mid_message_is_dropped_alone() -> None:
    victim, victim_pipe = _start(big=True)
    other, other_pipe = _start(big=False)
    inbox = Inbox()
    inbox.add(0, victim_pipe)
    inbox.add(1, other_pipe)
    heard: list[tuple[object, ...]] = []
    try:
        assert victim_pipe.poll(10)
        assert victim_pipe.recv()[0] == "first"
        # The next message is 8 MiB: once part of it waits in the pipe, the writer is in it.
        wait_until(lambda: _waiting_bytes(victim_pipe) > 0, 10, "the big message to start")
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(10)
        other.join(10)
        for _ in range(100):  # each turn takes a message or an end, within 0.5 s
            if not inbox.readers:
                break
            heard += inbox.get(timeout=0.5)
        assert not inbox.readers, "both pipes ended: the dead worker's, mid-message, too"
        assert [m[0] for m in heard] == ["first", "put returned"], "only the other worker's"
        assert other.exitcode == 0
    finally:
        inbox.close()
        for proc in (victim, other):
            if proc.is_alive():
                proc.kill()


def _waiting_bytes(conn: Connection) -> int:
    size = array.array("i", [0])
    fcntl.ioctl(conn.fileno(), termios.FIONREAD, size)
    return size[0]


def test_put_does_not_wait_for_the_reader() -> None:
    proc, pipe = _start(big=True)
    try:
        msgs: list[tuple[object, ...]] = []
        while len(msgs) < 3:
            assert pipe.poll(10)
            msgs.append(pipe.recv())
        assert [m[0] for m in msgs] == ["first", "big", "put returned"]
        assert msgs[2][1] < 1.0, "put() waited for the parent to read 8 MiB"
    finally:
        proc.kill()
        proc.join(10)
        pipe.close()
