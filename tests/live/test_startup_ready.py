"""Issue 16: ready means capturing, and any number of workers gives one worker's answer.

The demo capture goes through tcpreplay at 3,000 packets/s into a veth pair, starting the
moment the sensor says it is ready (``READY=1`` on a notification socket the test
provides, as systemd's ``Type=notify`` would) or, harder, the moment its metrics endpoint
first answers. Every frame must be counted (none dropped, none in no counter) and the
counters and findings must be the replay's, for 1, 2 and 4 workers. A sensor started into
running traffic reports no drop it did not have. Then a worker is killed: it is started
again, shows in the metrics, and the counters go on from where they were.
"""

from __future__ import annotations

import gzip
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from monitor import metrics as m
from monitor.counters import Counters
from tests.waiting import poll, scaled, wait_until

from .expected import COMPARED, by, keyed_from_counters, keyed_from_scrape, replay_counters
from .netns import (
    FETCH,
    PCAPS,
    Segment,
    Sensor,
    Series,
    need,
    parse_metrics,
    run,
    segment,
    total,
)
from .sdnotify import NotifySocket

pytestmark = [pytest.mark.slow, pytest.mark.tools]
POLICY = PCAPS / "site.yaml"
RATE = ("--pps=3000",)
KIND = 2  # label position of kind after site: device, vendor, kind


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Counters, int]:
    """The demo capture as a plain pcap, the counters its replay ends with, its frames."""
    pcap = tmp_path_factory.mktemp("demo") / "demo_day.pcap"
    with gzip.open(PCAPS / "demo_day.pcap.gz") as src, open(pcap, "wb") as out:
        shutil.copyfileobj(src, out)
    expected = replay_counters(pcap, POLICY)
    return pcap, expected, int(expected.capture_packets.total())


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_traffic_right_after_ready_gives_the_replay(
    tmp_path: Path, demo: tuple[Path, Counters, int], workers: int
) -> None:
    need("ip", "tcpreplay")
    pcap, expected, frames = demo
    notify = NotifySocket(tmp_path / "notify")
    with segment() as seg:
        sensor = _sensor(seg, tmp_path, workers, notify)
        try:
            sensor.launch()
            notify.wait_for("READY=1", 60)
            seg.replay(pcap, extra=RATE)  # at once: no sleep, no poll of anything else
            scraped = _settled(sensor, expected, frames)
            _assert_replay(scraped, expected, frames)
            assert sensor.stop() == 0, sensor.log()
        finally:
            sensor.kill()
            fields = notify.drain()
            notify.close()
    assert fields.count("READY=1") == 1 and "STOPPING=1" in fields, fields
    assert fields[0] == f"STATUS=starting: opening the capture on {seg.sen_if}", fields
    ready = fields.index("READY=1")
    shape = "one process" if workers == 1 else f"{workers} workers"
    assert fields[ready + 1] == f"STATUS=capturing on {seg.sen_if} ({shape})", fields
    assert fields.index("STOPPING=1") > ready


def test_ready_is_what_scrapes_and_the_landing_page_show(tmp_path: Path) -> None:
    need("ip")
    notify = NotifySocket(tmp_path / "notify")
    with segment() as seg:
        sensor = _sensor(seg, tmp_path, 2, notify)
        try:
            sensor.launch()
            early = poll(sensor.scrape_text, 60, lambda t: t is not None, every=0.05)
            assert early is not None, sensor.log()
            if "READY=1" not in notify.drain():  # the endpoint answered before ready
                assert total(parse_metrics(early)["cctv_capture_up"]) == 0, early
            notify.wait_for("READY=1", 60)
            scraped = sensor.scrape()  # right after READY=1: it shows the same
            assert total(scraped["cctv_capture_up"]) == 1
            assert _workers(scraped) == {"running": 2.0, "expected": 2.0}
            assert total(scraped["cctv_capture_worker_restarts_total"]) == 0
            page = _fetch(sensor, "/")
            assert f"capturing on {seg.sen_if} (2 workers)" in page, page
            assert sensor.stop() == 0, sensor.log()
        finally:
            sensor.kill()
            notify.close()


@pytest.mark.parametrize("workers", [2, 4])
def test_traffic_when_the_endpoint_first_answers_is_all_counted(
    tmp_path: Path, demo: tuple[Path, Counters, int], workers: int
) -> None:
    """The issue's new user: sending as soon as ``/metrics`` answers, before READY=1. The
    sockets are open and joined before the endpoint listens, so nothing is lost."""
    need("ip", "tcpreplay")
    pcap, expected, frames = demo
    with segment() as seg:
        sensor = Sensor(seg, tmp_path, ("--config", str(POLICY), "--workers", str(workers)))
        try:
            sensor.launch()
            wait_until(lambda: _answers(sensor), 60, "the endpoint to answer", every=0.05)
            seg.replay(pcap, extra=RATE)
            scraped = _settled(sensor, expected, frames)
            _assert_replay(scraped, expected, frames)
            assert sensor.stop() == 0, sensor.log()
        finally:
            sensor.kill()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_start_on_a_busy_segment_reports_no_drop_it_did_not_have(
    tmp_path: Path, workers: int
) -> None:
    """While its handles are set up, a socket refuses frames it has no buffer for yet (or,
    before it joins the group, frames the other workers count): no drops of the capture."""
    need("ip", "tcpreplay")
    notify = NotifySocket(tmp_path / "notify")
    with segment() as seg:
        loop = ["tcpreplay", f"--intf1={seg.src_if}", "--pps=5000", "--loop=0"]
        traffic = subprocess.Popen(
            seg.exec(seg.src_ns, *loop, str(PCAPS / "clean.pcap")),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        sensor = _sensor(seg, tmp_path, workers, notify)
        try:
            sensor.launch()  # into the traffic
            notify.wait_for("READY=1", 60)
            wait_until(lambda: _counted_so_far(sensor) > 0, 30, "frames counted")
            traffic.send_signal(signal.SIGINT)
            traffic.wait(timeout=scaled(30))
            settled = poll(sensor.scrape, 30, lambda s: _unchanged(sensor, s), every=1.0)
            assert total(settled["cctv_capture_packets_total"]) > 0
            assert total(settled["cctv_capture_dropped_packets_total"]) == 0, sensor.log()
            assert sensor.stop() == 0, sensor.log()
        finally:
            if traffic.poll() is None:
                traffic.kill()
                traffic.wait()
            sensor.kill()
            notify.close()


def _counted_so_far(sensor: Sensor) -> float:
    return total(sensor.scrape().get("cctv_capture_packets_total", {}))


def _unchanged(sensor: Sensor, scraped: dict[str, Series]) -> bool:
    """True when a second scrape counts as many frames as ``scraped`` (the last are in)."""
    return _counted_so_far(sensor) == total(scraped.get("cctv_capture_packets_total", {}))


def test_a_dead_worker_is_started_again_and_counting_goes_on(tmp_path: Path) -> None:
    need("ip", "tcpreplay")
    first, second = PCAPS / "clean.pcap", PCAPS / "egress.pcap"
    frames = [int(replay_counters(p, POLICY).capture_packets.total()) for p in (first, second)]
    notify = NotifySocket(tmp_path / "notify")
    with segment() as seg:
        sensor = _sensor(seg, tmp_path, 2, notify)
        try:
            sensor.launch()
            notify.wait_for("READY=1", 60)
            seg.replay(first, extra=RATE)
            before = _counted(sensor, frames[0])
            assert sensor.proc is not None
            victim = _workers_of(sensor.proc.pid)[1]
            run(["kill", "-KILL", str(victim)])
            after = wait_until(lambda: _restarted(sensor), 60, "the worker started again")
            assert _workers(after) == {"running": 2.0, "expected": 2.0}
            assert total(after["cctv_capture_up"]) == 1
            assert total(after["cctv_capture_packets_total"]) >= before  # never backwards
            assert victim not in _workers_of(sensor.proc.pid)
            counted = total(after["cctv_capture_packets_total"])
            seg.replay(second, extra=RATE)  # every frame after the restart is counted
            _counted(sensor, counted + frames[1])
            assert sensor.stop() == 0, sensor.log()
        finally:
            sensor.kill()
            notify.close()
    assert f"capture worker 1 died (exit status -{signal.SIGKILL.value}); starting" in sensor.log()
    assert "STATUS=capturing on " in "\n".join(notify.fields())  # before the restart


# ------------------------------------------------------------------ helpers


def _sensor(seg: Segment, tmp_path: Path, workers: int, notify: NotifySocket) -> Sensor:
    args = ("--config", str(POLICY), "--workers", str(workers))
    return Sensor(seg, tmp_path, args, env=notify.env)


def _answers(sensor: Sensor) -> bool:
    if sensor.proc is not None and sensor.proc.poll() is not None:
        pytest.fail(f"sensor exited with {sensor.proc.returncode}:\n{sensor.log()}")
    return sensor.scrape_text() is not None


def _fetch(sensor: Sensor, path: str) -> str:
    url = f"http://127.0.0.1:{sensor.port}{path}"
    return run(sensor.seg.sensor_cmd(sys.executable, "-c", FETCH, url))


def _workers(scraped: dict[str, Series]) -> dict[str, float]:
    return {dict(k)["state"]: v for k, v in scraped["cctv_capture_workers"].items()}


def _workers_of(pid: int) -> list[int]:
    """The sensor's forked capture workers (children running its own command line), oldest
    first; not the process multiprocessing starts to track its semaphores."""
    cmdline = _read(Path(f"/proc/{pid}/cmdline"))
    forked: list[tuple[int, int]] = []  # (start time, pid)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _read(entry / "stat").rsplit(b")", 1)[-1].split()  # after "(comm)"
        if len(stat) > 19 and int(stat[1]) == pid and _read(entry / "cmdline") == cmdline:
            forked.append((int(stat[19]), int(entry.name)))
    return [child for _, child in sorted(forked)]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # gone meanwhile
        return b""


def _restarted(sensor: Sensor) -> dict[str, Series] | None:
    scraped = sensor.scrape()
    restarts = total(scraped.get("cctv_capture_worker_restarts_total", {}))
    up = total(scraped.get("cctv_capture_up", {}))
    return scraped if restarts == 1 and up == 1 else None


def _counted(sensor: Sensor, frames: float) -> float:
    def counted() -> float:
        return total(sensor.scrape().get("cctv_capture_packets_total", {}))

    wait_until(lambda: counted() >= frames, 60, f"{frames:g} captured packets")
    scraped = sensor.scrape()
    assert total(scraped["cctv_capture_packets_total"]) == frames, sensor.log()
    assert total(scraped["cctv_capture_dropped_packets_total"]) == 0
    return frames


def _settled(sensor: Sensor, expected: Counters, frames: int) -> dict[str, Series]:
    _counted(sensor, frames)
    # Flows settle within 2 s of packet time; idle ticks follow the wall clock.
    return poll(sensor.scrape, 30, lambda s: _matches(s, expected), every=0.3)


def _matches(scraped: dict[str, Series], expected: Counters) -> bool:
    return all(
        keyed_from_scrape(scraped.get(spec.name, {}), spec) == keyed_from_counters(expected, attr)
        for spec, attr in COMPARED
    )


def _assert_replay(scraped: dict[str, Series], expected: Counters, frames: int) -> None:
    """Every frame counted, none dropped, and the replay's counters (findings by kind first,
    for a readable failure)."""
    assert total(scraped["cctv_capture_packets_total"]) == frames
    assert total(scraped["cctv_capture_dropped_packets_total"]) == 0
    live = {spec.name: keyed_from_scrape(scraped.get(spec.name, {}), spec) for spec, _ in COMPARED}
    want = {spec.name: keyed_from_counters(expected, attr) for spec, attr in COMPARED}
    assert by(live[m.FINDINGS.name], KIND) == by(want[m.FINDINGS.name], KIND)
    assert live == want
