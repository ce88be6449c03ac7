"""Flow keys in numpy (``monitor/flow/key.py``): direction-agnostic, one per flow, and equal
to the keys of the C grouping.

The pipeline groups frames with the C twin (``_groups.c``) when it is built, and the
evidence writer (``replay.write_evidence``) finds the packets of flagged flows again with
``flow_keys``: if the two disagreed on a single bit, the evidence pcap would be empty.
"""

from __future__ import annotations

import numpy as np
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether

import monitor.flow.grouping as grouping
from monitor.decode.frames import decode_batch
from monitor.flow.key import address_text, flow_keys, is_v4_key
from tests.framebuild import batch_of
from tests.requirements import unmet

E = Ether(src="44:19:b6:00:00:01", dst="00:11:22:33:44:55")
CAM, OUT, NVR = "10.20.1.11", "198.51.100.7", "10.20.0.2"
CAM6, OUT6 = "fd00:20::11", "2001:db8::7"


def _frames() -> list[object]:
    """Both directions of several flows, v4 and v6, TCP, UDP and ICMP, one ARP frame."""
    return [
        E / IP(src=CAM, dst=OUT) / TCP(sport=50000, dport=443, flags="S"),
        E / IP(src=OUT, dst=CAM) / TCP(sport=443, dport=50000, flags="SA"),
        E / IP(src=CAM, dst=OUT) / UDP(sport=50000, dport=443),
        E / IP(src=OUT, dst=CAM) / UDP(sport=443, dport=50000),
        E / IP(src=CAM, dst=NVR) / UDP(sport=554, dport=554),
        E / IP(src=NVR, dst=CAM) / UDP(sport=554, dport=554),
        E / IP(src=CAM, dst=CAM) / UDP(sport=5000, dport=6000),
        E / IP(src=CAM, dst=CAM) / UDP(sport=6000, dport=5000),
        E / IP(src=CAM, dst=OUT) / ICMP(),
        E / ARP(psrc=CAM, pdst=NVR),
        E / IPv6(src=CAM6, dst=OUT6) / TCP(sport=50001, dport=8443, flags="S"),
        E / IPv6(src=OUT6, dst=CAM6) / TCP(sport=8443, dport=50001, flags="SA"),
        E / IPv6(src=CAM6, dst=OUT6) / UDP(sport=65535, dport=1),
        E / Dot1Q(vlan=20) / IPv6(src=OUT6, dst=CAM6) / UDP(sport=1, dport=65535),
        E / IP(src=CAM, dst=CAM) / UDP(sport=5000, dport=5000),  # a tie: the sender is low
    ]


@pytest.fixture(scope="module")
def decoded():  # type: ignore[no-untyped-def]
    return decode_batch(batch_of(_frames()))


def test_both_directions_share_a_key_and_flows_do_not(decoded) -> None:  # type: ignore[no-untyped-def]
    keys, _ = flow_keys(decoded)
    k = [int(x) for x in keys]
    pairs = [(0, 1), (2, 3), (4, 5), (6, 7), (10, 11), (12, 13)]
    for a, b in pairs:
        assert k[a] == k[b], (a, b)
    assert len({k[a] for a, _ in pairs} | {k[8]}) == len(pairs) + 1  # TCP and UDP differ too


def test_the_sender_is_low_when_its_address_then_port_sorts_first(decoded) -> None:  # type: ignore[no-untyped-def]
    _, low = flow_keys(decoded)
    # 10.20.1.11 sorts above 10.20.0.2 and below 198.51.100.7; equal addresses: the port
    expected = {0: True, 1: False, 2: True, 3: False, 4: False, 5: True, 6: True, 7: False}
    assert {i: bool(low[i]) for i in expected} == expected
    assert bool(low[12]) != bool(low[13])
    assert bool(low[14])


def test_the_numpy_keys_are_the_c_keys(decoded) -> None:  # type: ignore[no-untyped-def]
    if grouping._groups is None:
        unmet("the C grouping is not built")
    keys, low = flow_keys(decoded)
    groups = grouping.group_batch(decoded)
    ip = np.flatnonzero(decoded.ip)
    c_keys = [groups.keys[int(groups.frame_group[i])] for i in ip]
    assert [int(x) for x in keys[ip]] == [int(x) for x in c_keys]
    assert [bool(x) for x in low[ip]] == [bool(groups.frame_low[i]) for i in ip]


def test_the_numpy_grouping_uses_these_keys(decoded) -> None:  # type: ignore[no-untyped-def]
    keys, _ = flow_keys(decoded)
    groups = grouping.group_batch_numpy(decoded)
    ip = np.flatnonzero(decoded.ip)
    assert sorted(set(groups.keys)) == sorted({int(x) for x in keys[ip]})


def test_v4_address_keys_are_tagged(decoded) -> None:  # type: ignore[no-untyped-def]
    assert is_v4_key(int(decoded.src_key[0])) and is_v4_key(int(decoded.dst_key[0]))
    assert not is_v4_key(int(decoded.src_key[10]))
    assert not is_v4_key(0x0A14010B)  # an address without the tag is not a key
    assert not is_v4_key(int(decoded.src_key[0]) | (1 << 41))


def test_address_text(decoded) -> None:  # type: ignore[no-untyped-def]
    data = decoded.batch.data
    l3 = int(decoded.l3[0])
    assert address_text(data, l3, 4, source=True) == CAM
    assert address_text(data, l3, 4, source=False) == OUT
    l3 = int(decoded.l3[10])
    assert address_text(data, l3, 6, source=True) == CAM6
    assert address_text(data, l3, 6, source=False) == OUT6


@pytest.mark.parametrize(
    ("text", "number"),
    [("10.20.1.11", 0x0A14010B), ("0.0.0.0", 0), ("255.255.255.255", 0xFFFFFFFF),
     ("198.51.100.7", 3325256711)],
)  # fmt: skip
def test_v4_text_and_int_are_inverse(text: str, number: int) -> None:
    from monitor.flow.key import v4_int, v4_text

    assert v4_int(text) == number
    assert v4_text(number) == text


@pytest.mark.parametrize("text", ["", None, "10.20.1", "10.20.1.11.5", "fd00::1", "a.b.c.d",
                                  "10.20.1.x", "1.2.3."])  # fmt: skip
def test_v4_int_is_none_for_anything_else(text: str | None) -> None:
    from monitor.flow.key import v4_int

    assert v4_int(text) is None
