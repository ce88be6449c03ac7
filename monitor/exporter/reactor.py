"""The endpoint's connection loop: one thread owns every client socket, none ever blocks it.

It accepts, runs TLS handshakes, reads each request until it is complete and writes each
response, all non-blocking, and enforces :class:`~monitor.exporter.limits.Limits`. Only a
complete request goes to the worker pool, so silent, trickling or half-open clients cost
a file descriptor until their deadline, never a thread. The pool turns request bytes into
response bytes and hands them back through a wake-up socket.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import re
import selectors
import socket
import ssl
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from monitor.exporter.limits import Limits, Tally

log = logging.getLogger("monitor.exporter")
Handler = Callable[[bytes, Any], tuple[bytes, bool]]  # (request, peer) -> (response, keep)
TlsSource = Callable[[], ssl.SSLContext | None]
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_SWEEP_SECONDS = 0.1
_ACCEPTS_PER_WAKE = 16  # new connections (and TLS handshakes) per round of events


class Phase(enum.Enum):
    """Where a connection is: the reactor's work (HANDSHAKE, READ, WRITE) or a worker's."""

    HANDSHAKE = "handshake"
    READ = "read"
    BUSY = "busy"
    WRITE = "write"


@dataclass(eq=False, slots=True)
class Conn:
    """One client connection and what the reactor knows of it."""

    sock: socket.socket
    peer: Any
    phase: Phase
    deadline: float
    buf: bytearray = field(default_factory=bytearray)
    out: memoryview | None = None
    keep: bool = False
    idle: bool = False  # kept alive, waiting for the first byte of a further request
    closed: bool = False
    events: int = 0  # what the selector watches for (0: not registered)


def _status(code: int, reason: str) -> bytes:
    return (f"HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").encode()


class Reactor:
    """Serves ``handler`` on ``listener`` from one thread plus ``limits.workers`` workers."""

    def __init__(
        self, listener: socket.socket, handler: Handler, tls: TlsSource, limits: Limits
    ) -> None:
        self.listener = listener
        self.limits = limits
        self.tally = Tally()
        self._handler = handler
        self._tls = tls
        self._sel = selectors.DefaultSelector()
        self._conns: dict[int, Conn] = {}
        # Connections that have no complete request yet, longest waiting first.
        self._waiting: OrderedDict[Conn, None] = OrderedDict()
        self._done: deque[tuple[Conn, bytes, bool]] = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._pool = ThreadPoolExecutor(limits.workers, thread_name_prefix="metrics-worker")
        self._stop = False
        self._accepting = True
        self._thread = threading.Thread(target=self._run, name="metrics-http", daemon=True)

    def start(self) -> None:
        """Start the loop thread."""
        for s in (self.listener, self._wake_r, self._wake_w):
            s.setblocking(False)
        self._sel.register(self.listener, selectors.EVENT_READ, None)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread.start()

    def stop(self) -> None:
        """Close every connection and the listening socket; wait for the loop to end."""
        self._stop = True
        self._wake()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def connections(self) -> int:
        """Client connections open now."""
        return len(self._conns)

    # -- the loop -----------------------------------------------------------------------
    def _run(self) -> None:
        next_sweep = 0.0
        try:
            while not self._stop:
                pending = False
                for key, _ in self._sel.select(_SWEEP_SECONDS):
                    if key.fileobj is self.listener:
                        pending = True
                    elif key.fileobj is self._wake_r:
                        self._take_done()
                    else:
                        self._step(key.data)
                if pending:  # after the clients already in: a burst of new ones waits its turn
                    self._accept()
                now = time.monotonic()
                if now >= next_sweep:
                    if not self._accepting:
                        self._sel.register(self.listener, selectors.EVENT_READ, None)
                        self._accepting = True
                    self._sweep(now)
                    self.tally.report(now)
                    next_sweep = now + _SWEEP_SECONDS
        finally:
            for conn in list(self._conns.values()):
                self._close(conn)
            self._sel.close()
            for s in (self.listener, self._wake_r, self._wake_w):
                s.close()

    def _accept(self) -> None:
        for _ in range(_ACCEPTS_PER_WAKE):
            try:
                sock, peer = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors and the like
                self.tally.add("accept_failed")
                if self._evict():
                    continue
                self._sel.unregister(self.listener)  # the backlog keeps them until the sweep
                self._accepting = False
                return
            if len(self._conns) >= self.limits.max_connections and not self._evict():
                self.tally.add("refused")
                sock.close()
                continue
            self._admit(sock, peer)

    def _admit(self, sock: socket.socket, peer: Any) -> None:
        sock.setblocking(False)
        # A response goes out whole: Nagle's algorithm could only hold its tail back.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = self._tls()
        phase = Phase.READ
        if ctx is not None:
            try:
                sock = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except (OSError, ValueError) as exc:
                log.debug("TLS with %s failed: %s", peer, exc)
                sock.close()
                return
            phase = Phase.HANDSHAKE
        conn = Conn(sock, peer, phase, time.monotonic() + self.limits.request_deadline)
        self._conns[sock.fileno()] = conn
        self._waiting[conn] = None
        self._want(conn, selectors.EVENT_READ)
        self._step(conn)  # a TLS client may have sent its hello already

    def _evict(self) -> bool:
        """Close the connection waiting longest for a complete request (False: none)."""
        if not self._waiting:
            return False
        conn = next(iter(self._waiting))
        self.tally.add("evicted")
        self._close(conn)
        return True

    def _sweep(self, now: float) -> None:
        for conn in list(self._conns.values()):
            if conn.phase is not Phase.BUSY and now >= conn.deadline:
                if not conn.idle:
                    self.tally.add("write_deadline" if conn.phase is Phase.WRITE else "deadline")
                self._close(conn)

    def _step(self, conn: Conn) -> None:
        """Move ``conn`` on as far as its socket allows."""
        if conn.closed:  # closed earlier in the same round of events
            return
        if conn.phase is Phase.HANDSHAKE:
            self._handshake(conn)
        elif conn.phase is Phase.READ:
            self._read(conn)
        elif conn.phase is Phase.WRITE:
            self._write(conn)

    def _want(self, conn: Conn, events: int) -> None:
        if conn.closed or conn.events == events:
            return
        if conn.events:
            self._sel.modify(conn.sock, events, conn)
        else:
            self._sel.register(conn.sock, events, conn)
        conn.events = events

    def _handshake(self, conn: Conn) -> None:
        tls = conn.sock
        assert isinstance(tls, ssl.SSLSocket)
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            self._want(conn, selectors.EVENT_READ)
            return
        except ssl.SSLWantWriteError:
            self._want(conn, selectors.EVENT_WRITE)
            return
        except (OSError, ValueError) as exc:
            log.debug("TLS handshake with %s failed: %s", conn.peer, exc)
            self._close(conn)
            return
        conn.phase = Phase.READ
        self._want(conn, selectors.EVENT_READ)
        self._read(conn)

    def _read(self, conn: Conn) -> None:
        while True:
            try:
                data = conn.sock.recv(65536)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
                self._want(conn, selectors.EVENT_READ)
                break
            except ssl.SSLWantWriteError:
                self._want(conn, selectors.EVENT_WRITE)
                break
            except (OSError, ValueError):
                self._close(conn)
                return
            if not data:
                self._close(conn)
                return
            if conn.idle:  # a further request on a kept-alive connection: its deadline runs
                conn.idle = False
                conn.deadline = time.monotonic() + self.limits.request_deadline
            conn.buf += data
            if len(conn.buf) > self.limits.max_head + self.limits.max_body:
                break
        self._parse(conn)

    def _parse(self, conn: Conn) -> None:
        """Hand a complete request to a worker; answer a malformed or oversized one here."""
        limits = self.limits
        end = _HEAD_END.search(conn.buf, 0, limits.max_head + 4)
        if end is None:
            if len(conn.buf) > limits.max_head:
                self._refuse(conn, _status(431, "Request Header Fields Too Large"))
            return
        head = bytes(conn.buf[: end.end()])
        length, chunked = _body_of(head)
        if length is None:
            self._refuse(conn, _status(400, "Bad Request"))
            return
        if length > limits.max_body:
            self._refuse(conn, _status(413, "Content Too Large"))
            return
        if len(conn.buf) < end.end() + length:
            return
        del conn.buf[: end.end() + length]
        conn.phase = Phase.BUSY
        conn.keep = not chunked  # a chunked body is never read: close after answering
        self._waiting.pop(conn, None)
        self._sel.unregister(conn.sock)
        conn.events = 0
        self._pool.submit(self._work, conn, head)

    def _refuse(self, conn: Conn, response: bytes) -> None:
        self.tally.add("too_large")
        self._waiting.pop(conn, None)
        self._respond(conn, response, keep=False)

    def _work(self, conn: Conn, request: bytes) -> None:
        """In a worker: the response to ``request``, handed back to the loop."""
        try:
            response, keep = self._handler(request, conn.peer)
        except Exception:  # never lose the connection to a bug: 500 and a log line
            log.exception("metrics endpoint: request from %s failed", conn.peer)
            response, keep = _status(500, "Internal Server Error"), False
        self._done.append((conn, response, keep and conn.keep))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # a full pipe already wakes the loop
            self._wake_w.send(b"\0")

    def _take_done(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        while self._done:
            conn, response, keep = self._done.popleft()
            if not conn.closed:
                self._respond(conn, response, keep)

    def _respond(self, conn: Conn, response: bytes, keep: bool) -> None:
        conn.phase, conn.out, conn.keep = Phase.WRITE, memoryview(response), keep
        conn.deadline = time.monotonic() + self.limits.write_deadline
        self._write(conn)

    def _write(self, conn: Conn) -> None:
        assert conn.out is not None
        while conn.out:
            try:
                sent = conn.sock.send(conn.out)
            except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError):
                self._want(conn, selectors.EVENT_WRITE)
                return
            except ssl.SSLWantReadError:
                self._want(conn, selectors.EVENT_READ)
                return
            except (OSError, ValueError):
                self._close(conn)
                return
            conn.out = conn.out[sent:]
        if not conn.keep:
            self._close(conn)
            return
        conn.phase, conn.out, conn.idle = Phase.READ, None, True
        conn.deadline = time.monotonic() + self.limits.idle_timeout
        self._waiting[conn] = None
        self._want(conn, selectors.EVENT_READ)
        if conn.buf:  # a pipelined request is already here
            conn.idle = False
            conn.deadline = time.monotonic() + self.limits.request_deadline
            self._parse(conn)

    def _close(self, conn: Conn) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._waiting.pop(conn, None)
        self._conns.pop(conn.sock.fileno(), None)
        if conn.events:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(conn.sock)
        conn.sock.close()


def _body_of(head: bytes) -> tuple[int | None, bool]:
    """(Content-Length, chunked?) of a request head; (None, _) when the length is no number."""
    length, chunked = 0, False
    for line in head.split(b"\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            if not value.strip().isdigit():
                return None, False
            length = int(value.strip())
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked
