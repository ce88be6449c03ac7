"""Test helper: wrap frames in the mirror tunnels sites deliver (scapy builds the headers).

``wrap(frame, kind)`` returns an Ethernet frame from a switch (10.99.0.1) to the sensor
(10.99.0.2) whose tunnel carries ``frame``. Kinds that carry Ethernet keep the frame
whole; ``gre-ip``, ``ipip`` and ``ip6ip`` carry only its IP packet (the MACs are lost).
"""

from __future__ import annotations

from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific
from scapy.contrib.geneve import GENEVE
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import GRE, Dot1Q, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw

SWITCH, SENSOR = "10.99.0.1", "10.99.0.2"
SWITCH6, SENSOR6 = "fd99::1", "fd99::2"
OUTER_MACS = {"src": "02:00:00:99:00:01", "dst": "02:00:00:99:00:02"}

ETHERNET_KINDS = (
    "gre-eth", "gre-key", "gre6-eth", "erspan1", "erspan2", "erspan3", "erspan3-platform",
    "vxlan", "vxlan-vlan", "geneve", "geneve-options",
)  # fmt: skip
IP_KINDS = ("gre-ip", "ipip")
KINDS = ETHERNET_KINDS + IP_KINDS

# what the decoder reports for each kind: (tunnel name, session id)
EXPECTED = {
    "gre-eth": ("gre", -1),
    "gre-key": ("gre", 0x1234),
    "gre6-eth": ("gre", -1),
    "erspan1": ("erspan1", -1),
    "erspan2": ("erspan2", 7),
    "erspan3": ("erspan3", 300),
    "erspan3-platform": ("erspan3", 301),
    "vxlan": ("vxlan", 5001),
    "vxlan-vlan": ("vxlan", 5002),
    "geneve": ("geneve", 77),
    "geneve-options": ("geneve", 78),
    "gre-ip": ("gre", -1),
    "ipip": ("ipip", -1),
}


def _inner_ip(frame: bytes) -> Packet:
    """The IP packet of an Ethernet frame (VLAN tags skipped)."""
    pkt = Ether(frame).payload
    while isinstance(pkt, Dot1Q):
        pkt = pkt.payload
    return pkt


def _outer(kind: str) -> Packet:
    if kind == "gre6-eth":
        return Ether(**OUTER_MACS) / IPv6(src=SWITCH6, dst=SENSOR6)
    return Ether(**OUTER_MACS) / IP(src=SWITCH, dst=SENSOR)


def wrap(frame: bytes, kind: str) -> bytes:
    """``frame`` (Ethernet) inside a tunnel of ``kind`` (one of ``KINDS``)."""
    inner = Raw(frame)
    o = _outer(kind)
    if kind in ("gre-eth", "gre6-eth"):
        pkt = o / GRE(proto=0x6558) / inner
    elif kind == "gre-key":
        pkt = o / GRE(proto=0x6558, key_present=1, key=0x1234, seqnum_present=1) / inner
    elif kind == "erspan1":
        pkt = o / GRE(proto=0x88BE) / inner
    elif kind == "erspan2":
        pkt = o / GRE(proto=0x88BE, seqnum_present=1) / ERSPAN_II(session_id=7, vlan=20) / inner
    elif kind == "erspan3":
        pkt = o / GRE(proto=0x22EB, seqnum_present=1) / ERSPAN_III(session_id=300, vlan=30) / inner
    elif kind == "erspan3-platform":
        header = ERSPAN_III(session_id=301, o=1) / ERSPAN_PlatformSpecific(platf_id=3)
        pkt = o / GRE(proto=0x22EB, seqnum_present=1) / header / inner
    elif kind == "vxlan":
        pkt = o / UDP(sport=49152, dport=4789) / VXLAN(vni=5001, flags=0x08) / inner
    elif kind == "vxlan-vlan":
        tagged = Ether(frame)
        tagged = Ether(src=tagged.src, dst=tagged.dst) / Dot1Q(vlan=20) / tagged.payload
        pkt = o / UDP(sport=49153, dport=4789) / VXLAN(vni=5002, flags=0x08) / tagged
    elif kind == "geneve":
        pkt = o / UDP(sport=49154, dport=6081) / GENEVE(vni=77, proto=0x6558) / inner
    elif kind == "geneve-options":
        options = b"\x01\x02\x03\x01" + b"\x00" * 4  # one 8-byte option (class 0x0102, type 3)
        geneve = GENEVE(vni=78, proto=0x6558, optionlen=2, options=options)
        pkt = o / UDP(sport=49155, dport=6081) / geneve / inner
    elif kind == "gre-ip":
        ip = _inner_ip(frame)
        pkt = o / GRE(proto=0x0800 if ip.version == 4 else 0x86DD) / ip
    elif kind == "ipip":
        ip = _inner_ip(frame)
        pkt = o / ip  # scapy sets the outer protocol from the payload (4 or 41)
    else:
        raise ValueError(kind)
    return bytes(pkt)


def unwrapped_length(frame: bytes, kind: str) -> int:
    """The inner frame's length: what the decoder's ``wirelen`` must say."""
    if kind in IP_KINDS:
        return len(bytes(_inner_ip(frame)))
    if kind == "vxlan-vlan":
        return len(frame) + 4
    return len(frame)
