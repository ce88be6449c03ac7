"""Flow-table invariants on random traffic: nothing is lost or counted twice."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from monitor.decode.frames import decode_batch
from monitor.flow.table import FlowSettings, FlowTable
from tests.framebuild import batch_of

HOSTS = ["10.0.0.1", "10.0.0.2", "192.0.2.1", "fd00::1"]

packet = st.tuples(
    st.sampled_from(HOSTS[:3]),
    st.sampled_from(HOSTS[:3]),
    st.integers(1, 65535),
    st.integers(1, 65535),
    st.sampled_from(["tcp", "udp"]),
    st.binary(max_size=40),
)


def build(spec: tuple[str, str, int, int, str, bytes]) -> bytes:
    src, dst, sport, dport, proto, payload = spec
    l4 = (
        TCP(sport=sport, dport=dport, flags="A")
        if proto == "tcp"
        else UDP(sport=sport, dport=dport)
    )
    return bytes(
        Ether(src="00:11:22:33:44:55", dst="66:77:88:99:aa:bb")
        / IP(src=src, dst=dst)
        / l4
        / payload
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(packet, min_size=1, max_size=60), st.integers(2, 30))
def test_packets_and_bytes_are_conserved(
    specs: list[tuple[str, str, int, int, str, bytes]], max_flows: int
) -> None:
    frames = [build(s) for s in specs]
    table = FlowTable(FlowSettings(max_flows=max_flows))
    ended = []
    half = len(frames) // 2
    for part, t0 in ((frames[:half], 0.0), (frames[half:], 10.0)):
        if part:
            res = table.ingest(decode_batch(batch_of(part, [t0 + i for i in range(len(part))])))
            ended += [f for f, _ in res.ended]
    flows = ended + list(table.drain())
    assert sum(f.packets for f in flows) == len(frames)
    assert sum(f.bytes for f in flows) == sum(len(f) for f in frames)
    assert len(table.flows) == 0


@settings(max_examples=40, deadline=None)
@given(packet)
def test_a_flow_key_does_not_depend_on_direction(
    spec: tuple[str, str, int, int, str, bytes],
) -> None:
    src, dst, sport, dport, proto, payload = spec
    table = FlowTable()
    table.ingest(
        decode_batch(batch_of([build(spec), build((dst, src, dport, sport, proto, payload))]))
    )
    assert len(table.flows) == 1
