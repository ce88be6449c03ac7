"""`cctv-monitor live` on a veth reports what `replay` reports for the same frames; it survives
its interface going down and up; and it never transmits.

Design: two private network namespaces joined by a veth pair (see ``netns.py``); tcpreplay
sends the sample captures into one end, the sensor captures on the other end inside its
own namespace and serves metrics on that namespace's loopback, which the test scrapes
from inside the namespace too. Nothing is routed and nothing leaves the two namespaces.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import metrics as m
from tests.waiting import poll, wait_until

from .expected import (
    COMPARED,
    by,
    keyed_from_counters,
    keyed_from_scrape,
    replay_counters,
    sequential_capture,
)
from .netns import PCAPS, Sensor, need, segment, total

pytestmark = [pytest.mark.slow, pytest.mark.tools]
SAMPLES = sorted(PCAPS.glob("*.pcap"))
POLICY = PCAPS / "site.yaml"
VERDICT, KIND = 2, 2  # label positions after site: device, vendor, verdict|kind


@pytest.mark.parametrize("workers", [1, 2])
def test_live_matches_replay(tmp_path: Path, workers: int) -> None:
    need("ip", "tcpreplay")
    capture = tmp_path / "samples.pcap"
    frames = sequential_capture(SAMPLES, capture)
    expected = replay_counters(capture, POLICY)
    with segment() as seg:
        sensor = Sensor(seg, tmp_path, ("--config", str(POLICY), "--workers", str(workers)))
        sensor.args += ("--alerts", str(tmp_path / "alerts.jsonl"))
        try:
            sensor.start()
            seg.replay(capture)
            sensor.wait_captured(frames)
            # Flows settle within 2 s of packet time; idle ticks follow the wall clock.
            scraped = poll(sensor.scrape, 20, lambda s: _matches(s, expected), every=0.3)
            _assert_same(scraped, expected, frames)  # on a timeout: shows the difference
            _down_and_up(seg, sensor)
            assert sensor.stop() == 0, sensor.log()
            assert seg.sensor_tx_packets() == 0, "the sensor's interface transmitted"
        finally:
            sensor.kill()


def _matches(scraped: dict[str, dict], expected: object) -> bool:
    return all(
        keyed_from_scrape(scraped.get(spec.name, {}), spec) == keyed_from_counters(expected, attr)  # type: ignore[arg-type]
        for spec, attr in COMPARED
    )


def _assert_same(scraped: dict[str, dict], expected: object, frames: int) -> None:
    """Compare per verdict/kind first (readable failures), then every label set."""
    assert total(scraped["cctv_capture_packets_total"]) == frames
    dropped = scraped["cctv_capture_dropped_packets_total"]
    assert total(dropped) == 0
    live = {spec.name: keyed_from_scrape(scraped.get(spec.name, {}), spec) for spec, _ in COMPARED}
    want = {spec.name: keyed_from_counters(expected, attr) for spec, attr in COMPARED}  # type: ignore[arg-type]
    for spec in (m.PACKETS, m.FLOWS):
        assert by(live[spec.name], VERDICT) == by(want[spec.name], VERDICT), spec.name
    assert by(live[m.BYTES.name], VERDICT) == by(want[m.BYTES.name], VERDICT)
    assert by(live[m.FINDINGS.name], KIND) == by(want[m.FINDINGS.name], KIND)
    assert live == want
    # The same hosts: every one the replay knows. (Their roles may still differ: roles
    # learnt from fingerprints of ended flows appear live only once those flows end.)
    hosts = total(scraped["cctv_devices"])
    assert hosts == sum(expected.devices.values())  # type: ignore[attr-defined]


def _down_and_up(seg: object, sensor: Sensor) -> None:
    def capture_up() -> float:
        return total(sensor.scrape().get("cctv_capture_up", {}))

    assert capture_up() == 1
    seg.set_sensor_link(False)  # type: ignore[attr-defined]
    wait_until(lambda: capture_up() == 0, 15, "cctv_capture_up == 0")
    seg.set_sensor_link(True)  # type: ignore[attr-defined]
    wait_until(lambda: capture_up() == 1, 15, "cctv_capture_up == 1")
    assert sensor.proc is not None and sensor.proc.poll() is None, sensor.log()
