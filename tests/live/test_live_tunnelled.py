"""A remote mirror (VXLAN to the sensor's own address) gives the plain samples' answers, and
with the nftables rule of docs/live.md the sensor's host never answers the tunnel.

The sensor's end of the veth pair gets the tunnel's destination address and MAC, as a
sensor that receives ERSPAN or VXLAN from a switch has. Without a rule the kernel answers
every tunnel packet (ICMP port unreachable, after an ARP request): the control step shows
it transmits. With the documented rule (drop the tunnel in prerouting, which runs after
packet capture) it sends nothing, and the sensor still counts every inner frame.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tunnelbuild import SENSOR
from tests.waiting import poll, wait_until
from tools.wrap_capture import wrap_file

from .expected import replay_counters, sequential_capture
from .netns import PCAPS, Segment, Sensor, need, run, segment, total
from .test_live_matches_replay import _assert_same, _matches

pytestmark = [pytest.mark.slow, pytest.mark.tools]
SAMPLES = sorted(PCAPS.glob("*.pcap"))
POLICY = PCAPS / "site.yaml"
SENSOR_MAC = "02:00:00:99:00:02"  # the outer destination of tools/wrap_capture.py
DOCS = Path(__file__).resolve().parents[2] / "docs" / "live.md"


def documented_rules() -> str:
    """The nftables rules docs/live.md tells users to load ("Receiving a remote mirror")."""
    text = DOCS.read_text()
    start = text.index("nft -f - <<'NFT'\n") + len("nft -f - <<'NFT'\n")
    return text[start : text.index("\nNFT\n", start)] + "\n"


def _address_the_sensor(seg: Segment) -> None:
    # a tunnel adds 50 (VXLAN) to 58 bytes: mirror links run with jumbo frames
    run(seg.exec(seg.src_ns, "ip", "link", "set", seg.src_if, "mtu", "9000"))
    run(seg.sensor_cmd("ip", "link", "set", seg.sen_if, "mtu", "9000"))
    run(seg.sensor_cmd("ip", "link", "set", seg.sen_if, "address", SENSOR_MAC))
    run(seg.sensor_cmd("ip", "addr", "add", f"{SENSOR}/24", "dev", seg.sen_if))


@pytest.mark.parametrize("kind", ["vxlan", "erspan2"])
def test_remote_mirror_matches_the_plain_replay_and_the_host_stays_silent(
    tmp_path: Path, kind: str
) -> None:
    need("ip", "tcpreplay", "nft")
    plain = tmp_path / "samples.pcap"
    frames = sequential_capture(SAMPLES, plain)
    tunnelled = tmp_path / f"samples-{kind}.pcap"
    assert wrap_file(str(plain), str(tunnelled), kind, session=501) == frames
    expected = replay_counters(plain, POLICY)
    with segment() as seg:  # control: without the rule the host answers the tunnel
        _address_the_sensor(seg)
        seg.replay(tunnelled, extra=("--limit=5", "--pps=50"))
        wait_until(lambda: seg.sensor_tx_packets() > 0, 10, "the kernel to answer")
    with segment() as seg:
        _address_the_sensor(seg)
        rules = tmp_path / "mirror.nft"
        rules.write_text(documented_rules())
        run(seg.sensor_cmd("nft", "-f", str(rules)))
        sensor = Sensor(seg, tmp_path, ("--config", str(POLICY)))
        try:
            sensor.start()
            silent_from = seg.sensor_tx_packets()
            seg.replay(tunnelled)
            captured = poll(
                lambda: total(sensor.scrape().get("cctv_capture_packets_total", {})),
                30,
                lambda n: n >= frames,
            )
            assert captured == frames, sensor.log()
            scraped = poll(sensor.scrape, 20, lambda s: _matches(s, expected), every=0.3)
            _assert_same(scraped, expected, frames)
            assert sensor.stop() == 0, sensor.log()
            assert seg.sensor_tx_packets() == silent_from, "the sensor's host transmitted"
        finally:
            sensor.kill()


def test_several_workers_on_a_remote_mirror_warn(tmp_path: Path) -> None:
    """The kernel's fanout hash sees only the outer header of a UDP tunnel: the sensor
    says so instead of quietly splitting flows between workers (docs/live.md)."""
    need("ip", "tcpreplay")
    plain = tmp_path / "samples.pcap"
    sequential_capture(SAMPLES[:1], plain)
    tunnelled = tmp_path / "samples-vxlan.pcap"
    wrap_file(str(plain), str(tunnelled), "vxlan")
    with segment() as seg:
        _address_the_sensor(seg)
        sensor = Sensor(seg, tmp_path, ("--config", str(POLICY), "--workers", "2"))
        try:
            sensor.start()
            seg.replay(tunnelled)
            wait_until(lambda: "arrives inside a tunnel (vxlan)" in sensor.log(), 20, "warning")
            assert sensor.stop() == 0, sensor.log()
            assert sensor.log().count("arrives inside a tunnel") <= 2  # once per worker
        finally:
            sensor.kill()
