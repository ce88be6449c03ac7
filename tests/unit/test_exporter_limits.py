"""The metrics endpoint under crowded and hostile clients: backlog, connection cap, request
deadline, keep-alive, oversized requests, and one rendering shared by simultaneous scrapes."""

from __future__ import annotations

import errno
import http.client
import re
import selectors
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from monitor.counters import Counters, Snapshot
from monitor.exporter.collector import SensorInfo, build_registry
from monitor.exporter.limits import Limits
from monitor.exporter.reactor import Reactor
from monitor.exporter.render import SharedRender
from monitor.exporter.server import Landing, MetricsServer, serve_metrics
from tests.requirements import require_tool
from tests.waiting import scaled, wait_until

GET = b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"


def start(limits: Limits | None = None) -> MetricsServer:
    counters = Counters()
    counters.capture_packets["eth1"] = 7
    snap = Snapshot("s", 1.0, counters)
    info = SensorInfo("lab", "1.0", True, None)
    registry = build_registry(lambda: snap, lambda: info, process_metrics=False)
    return serve_metrics("127.0.0.1:0", registry, lambda: Landing("m", "1.0", "lab"), None, limits)


@pytest.fixture()
def crowded() -> Iterator[MetricsServer]:
    server = start(Limits(max_connections=20, request_deadline=1.5, idle_timeout=30))
    try:
        yield server
    finally:
        server.shutdown()


def scrape(server: MetricsServer, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(*server.address, timeout=scaled(timeout))
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """Whether the server closed ``sock`` (EOF or reset) within ``timeout`` seconds."""
    sock.settimeout(scaled(timeout))
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_listen_backlog_is_large_and_a_burst_of_200_is_served() -> None:
    server = start()
    try:
        assert server.limits.backlog >= 128
        port = server.address[1]
        listing = subprocess.run(
            [require_tool("ss"), "-ltnH", "sport", "=", f":{port}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        send_q = re.split(r"\s+", listing.strip())[2]  # a listener's Send-Q is its backlog
        assert int(send_q) == server.limits.backlog >= 128

        # 200 clients connect at once (non-blocking), then all ask; every one is answered.
        socks = [socket.socket() for _ in range(200)]
        for s in socks:
            s.setblocking(False)
            s.connect_ex(server.address)
        sel = selectors.DefaultSelector()
        for s in socks:
            sel.register(s, selectors.EVENT_WRITE)
        replies: dict[socket.socket, bytes] = {s: b"" for s in socks}
        deadline = time.monotonic() + scaled(30)
        while len(sel.get_map()) and time.monotonic() < deadline:
            for key, events in sel.select(0.5):
                client = key.fileobj
                assert isinstance(client, socket.socket)
                if events & selectors.EVENT_WRITE:
                    client.sendall(GET.replace(b"HTTP/1.1", b"HTTP/1.0"))
                    sel.modify(client, selectors.EVENT_READ)
                    continue
                chunk = client.recv(65536)
                replies[client] += chunk
                if not chunk:
                    sel.unregister(client)
        statuses = [r.split(b" ", 2)[1] for r in replies.values() if r]
        assert statuses == [b"200"] * 200
        for s in socks:
            s.close()
    finally:
        server.shutdown()


def test_slow_loris_is_cut_off_at_the_total_deadline(crowded: MetricsServer) -> None:
    deadline = crowded.limits.request_deadline
    loris = [socket.create_connection(crowded.address) for _ in range(10)]
    started = time.monotonic()
    for s in loris:
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
    cut = [False] * len(loris)
    # A byte every 0.2 s: a per-read timeout of any length above that never fires.
    give_up = started + scaled(deadline + 10)
    while not all(cut) and time.monotonic() < give_up:
        for i, s in enumerate(loris):
            if cut[i]:
                continue
            try:
                s.sendall(b"X")
            except OSError:
                cut[i] = True
        assert scrape(crowded, timeout=2)[0] == 200  # real scrapes meanwhile: served at once
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    assert all(cut), "trickling clients were never cut off"
    assert elapsed >= deadline  # not before the deadline either
    for s in loris:
        s.close()
    assert crowded.tally.counts["deadline"] == len(loris)


def test_idle_connections_at_the_cap_do_not_starve_a_scrape(crowded: MetricsServer) -> None:
    cap = crowded.limits.max_connections
    idle = [socket.create_connection(crowded.address) for _ in range(cap)]
    wait_until(lambda: crowded.connections == cap, 10, "every idle connection accepted")
    status, body = scrape(crowded)
    assert status == 200 and b'cctv_capture_packets_total{interface="eth1",site="lab"} 7.0' in body
    # Room was made by closing the connection that had waited longest, and only that one.
    assert closed_by_server(idle[0], 5)
    assert not any(closed_by_server(s, 0.05) for s in idle[1:])
    assert crowded.tally.counts["evicted"] == 1
    for s in idle:
        s.close()


def test_keep_alive_serves_several_scrapes_on_one_connection(crowded: MetricsServer) -> None:
    conn = http.client.HTTPConnection(*crowded.address, timeout=scaled(5))
    try:
        for _ in range(3):
            conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
            resp = conn.getresponse()
            assert resp.status == 200 and resp.getheader("Content-Encoding") == "gzip"
            resp.read()
        assert crowded.connections == 1
    finally:
        conn.close()


def test_oversized_requests_are_refused(crowded: MetricsServer) -> None:
    limits = crowded.limits
    for request, code in (
        (b"GET / HTTP/1.1\r\nX: " + b"a" * (limits.max_head + 10) + b"\r\n\r\n", b"431"),
        (b"GET / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (limits.max_body + 1), b"413"),
        (b"GET / HTTP/1.1\r\nContent-Length: lots\r\n\r\n", b"400"),
    ):
        with socket.create_connection(crowded.address, timeout=scaled(5)) as s:
            s.sendall(request)
            assert s.recv(100).split(b" ", 2)[1] == code
    # A small body is read and skipped; the connection stays usable.
    with socket.create_connection(crowded.address, timeout=scaled(5)) as s:
        s.sendall(b"GET /nope HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" + GET)
        seen = b""
        while seen.count(b"HTTP/1.1 ") < 2:
            seen += s.recv(65536)
        assert seen.startswith(b"HTTP/1.1 404") and b"HTTP/1.1 200" in seen


def test_simultaneous_scrapes_share_one_rendering() -> None:
    ticks: list[float] = []
    clock_lock = threading.Lock()

    def clock() -> float:
        with clock_lock:
            ticks.append(len(ticks))
            return float(len(ticks))

    shared = SharedRender(0.0, clock)
    first_started, release = threading.Event(), threading.Event()

    def slow() -> bytes:
        first_started.set()
        release.wait(scaled(10))
        return b"first"

    results: list[bytes] = []
    lead = threading.Thread(target=lambda: results.append(shared.get("k", slow)))
    lead.start()
    assert first_started.wait(scaled(10))
    crowd = [
        threading.Thread(target=lambda: results.append(shared.get("k", lambda: b"second")))
        for _ in range(10)
    ]
    for t in crowd:
        t.start()
    # Everyone asked (one clock reading each) while the first rendering was under way.
    wait_until(lambda: len(ticks) == 2 + len(crowd), 10, "the crowd to ask")
    release.set()
    for t in [lead, *crowd]:
        t.join(scaled(10))
    # The first rendering started before the crowd asked: one more, shared by all ten.
    assert sorted(results) == [b"first"] + [b"second"] * 10
    assert shared.renderings == 2


def test_a_crowd_of_scrapers_costs_few_renderings() -> None:
    server = start(Limits(reuse_within=0.5))
    try:
        statuses: list[int] = []

        def scraper() -> None:
            for _ in range(5):
                statuses.append(scrape(server)[0])

        threads = [threading.Thread(target=scraper) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(30))
        assert statuses == [200] * 100
        assert server.renderings < 100
    finally:
        server.shutdown()


class _FlakyListener(socket.socket):
    """A listening socket whose next ``failures`` accepts fail as if out of descriptors."""

    failures = 0

    def accept(self) -> tuple[socket.socket, object]:  # type: ignore[override]
        if self.failures:
            self.failures -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        return super().accept()


def test_out_of_descriptors_frees_one_and_serves_later() -> None:
    listener = _FlakyListener(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    reactor = Reactor(listener, lambda request, peer: (ok, False), lambda: None, Limits())
    reactor.start()
    try:
        idle = socket.create_connection(listener.getsockname())
        wait_until(lambda: reactor.connections == 1, 10, "the idle client accepted")
        listener.failures = 2
        with socket.create_connection(listener.getsockname(), timeout=scaled(10)) as client:
            client.sendall(GET)
            assert client.recv(100).endswith(b"ok")  # accepted once the failures passed
        # The first failure closed the idle client to free a descriptor; the second paused
        # accepting until the next sweep instead of spinning on a listener that stays ready.
        assert closed_by_server(idle, 5)
        assert reactor.tally.counts["accept_failed"] == 2
        assert reactor.tally.counts["evicted"] == 1
        idle.close()
    finally:
        reactor.stop()


def test_a_scrape_after_a_publish_gets_a_fresh_rendering_within_the_reuse_window() -> None:
    """Issue 16's promise: a scrape right after READY=1 shows the capture up, even when
    another scrape was answered from the state before it a moment earlier."""
    shared = SharedRender(60.0, clock=lambda: 0.0)  # every request within the window
    state = {"version": 1, "up": "0"}

    def render() -> bytes:
        return f"cctv_capture_up {state['up']}\n".encode()

    def version() -> int:
        return state["version"]

    assert shared.get("k", render, version) == b"cctv_capture_up 0\n"
    assert shared.get("k", render, version) == b"cctv_capture_up 0\n"  # shared
    state.update(version=2, up="1")  # the sensor published, then said READY=1
    assert shared.get("k", render, version) == b"cctv_capture_up 1\n"
    assert shared.renderings == 2
