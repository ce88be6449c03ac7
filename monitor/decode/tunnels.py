"""Mirror tunnels: which encapsulations are removed, on which UDP ports, and how.

Sites that cannot put the sensor on the camera switch send it the mirror over the network:
ERSPAN (type I, II, III) from Cisco, Arista and Juniper switches, VXLAN from cloud traffic
mirroring, GRE from Linux and Open vSwitch, sometimes IP-in-IP or Geneve. The camera's
traffic is the inner frame; the outer tunnel is the transport between two inside hosts.

``encapsulation`` is the numpy twin of ``encapsulation()`` in ``_headers.c``: given the IP
headers of some frames, it says which carry a tunnel, of which kind, with which session
id (GRE key, ERSPAN session, VXLAN/Geneve VNI), and where the inner frame starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
INNER_ETHERNET = -1  # Encap.inner: the inner frame starts with an Ethernet header
UDP_VXLAN, UDP_GENEVE = 1, 2  # bits of the UDP port table
MAX_ENCAP = 4  # tunnel layers removed; a fifth is a decode error
VXLAN_PORTS = (4789,)
GENEVE_PORTS = (6081,)

# tunnel kinds, as the decoder's ``tunnel`` column numbers them
T_GRE, T_ERSPAN1, T_ERSPAN2, T_ERSPAN3, T_VXLAN, T_GENEVE, T_IPIP, T_IP6IP = range(1, 9)
TUNNEL_KINDS = {
    T_GRE: "gre",
    T_ERSPAN1: "erspan1",
    T_ERSPAN2: "erspan2",
    T_ERSPAN3: "erspan3",
    T_VXLAN: "vxlan",
    T_GENEVE: "geneve",
    T_IPIP: "ipip",
    T_IP6IP: "ip6ip",
}


def udp_port_table(
    vxlan: Iterable[int] = VXLAN_PORTS, geneve: Iterable[int] = GENEVE_PORTS
) -> npt.NDArray[np.uint8]:
    """65,536 bytes, one per UDP destination port: bit 1 VXLAN, bit 2 Geneve."""
    table = np.zeros(65536, dtype=np.uint8)
    table[list(vxlan)] |= UDP_VXLAN
    table[list(geneve)] |= UDP_GENEVE
    return table


DEFAULT_UDP_PORTS = udp_port_table()


@dataclass(slots=True)
class IpColumns:
    """The IP header of some frames: what ``ip_layer`` in ``_headers.c`` returns."""

    ip: Bool
    fragment: Bool
    version: npt.NDArray[np.uint8]
    ip_end: I64
    l4: I64
    proto: I64
    src: npt.NDArray[np.uint64]
    dst: npt.NDArray[np.uint64]


@dataclass(slots=True)
class Encap:
    """Per frame: tunnel kind (0: none), session id (-1: none), inner start and type."""

    kind: I64
    id: I64
    start: I64
    inner: I64


def gather(arr: npt.NDArray[np.uint8], starts: I64, width: int) -> npt.NDArray[np.uint8]:
    """Bytes ``arr[s : s + width]`` for every start, as an (n, width) matrix, clamped to the
    buffer like the C reader (which reads zeros when there are no bytes at all)."""
    if arr.shape[0] == 0:
        return np.zeros((starts.shape[0], width), dtype=np.uint8)
    idx = starts[:, None] + np.arange(width, dtype=np.int64)
    if starts.size and (int(starts.max()) + width > arr.shape[0] or int(starts.min()) < 0):
        np.clip(idx, 0, arr.shape[0] - 1, out=idx)
    return arr[idx]


def _u8(arr: npt.NDArray[np.uint8], at: I64) -> I64:
    return gather(arr, at, 1)[:, 0].astype(np.int64)


def _be(arr: npt.NDArray[np.uint8], at: I64, width: int) -> I64:
    """Big-endian unsigned integers of ``width`` bytes at every position."""
    cols = gather(arr, at, width).astype(np.int64)
    out = np.zeros(at.shape[0], dtype=np.int64)
    for k in range(width):
        out = (out << 8) | cols[:, k]
    return out


def ethertype_from_version(arr: npt.NDArray[np.uint8], at: I64) -> I64:
    """IPv4 or IPv6 EtherType from the version nibble at ``at`` (0 for neither)."""
    version = _u8(arr, at) >> 4
    return np.where(version == 4, ETH_IPV4, np.where(version == 6, ETH_IPV6, 0)).astype(np.int64)


def encapsulation(
    arr: npt.NDArray[np.uint8],
    h: IpColumns,
    frame_end: I64,
    udp_ports: npt.NDArray[np.uint8] = DEFAULT_UDP_PORTS,
) -> Encap:
    """The tunnel each frame's IP packet carries, if any (twin of the C function)."""
    m = frame_end.shape[0]
    kind = np.zeros(m, dtype=np.int64)
    tid = np.full(m, -1, dtype=np.int64)
    start = np.zeros(m, dtype=np.int64)
    inner = np.zeros(m, dtype=np.int64)
    live = h.ip & ~h.fragment
    proto, l4 = h.proto, h.l4
    ipip = live & ((proto == 4) | (proto == 41))
    kind[ipip] = np.where(proto[ipip] == 4, T_IPIP, T_IP6IP)
    start[ipip] = l4[ipip]
    inner[ipip] = np.where(proto[ipip] == 4, ETH_IPV4, ETH_IPV6)
    gre = np.flatnonzero(live & (proto == 47) & (l4 + 4 <= frame_end))
    if gre.size:
        _gre(arr, l4[gre], gre, kind, tid, start, inner)
    udp = np.flatnonzero(live & (proto == 17) & (l4 + 8 <= frame_end))
    if udp.size:
        use = udp_ports[_be(arr, l4[udp] + 2, 2)]
        udp = udp[use != 0]
        if udp.size:
            _udp(arr, l4[udp], use[use != 0].astype(np.int64), udp, kind, tid, start, inner)
    return Encap(kind, tid, start, inner)


def _gre(
    arr: npt.NDArray[np.uint8], l4: I64, rows: I64, kind: I64, tid: I64, start: I64, inner: I64
) -> None:
    """GRE (RFC 2784/2890) version 0 without routing: IP, Ethernet or ERSPAN payloads."""
    flags, ptype = _be(arr, l4, 2), _be(arr, l4 + 2, 2)
    ok = (flags & 0x4007) == 0
    at = l4 + 4 + np.where(flags & 0x8000, 4, 0)
    has_key = (flags & 0x2000) != 0
    key = np.where(has_key, _be(arr, at, 4), -1)
    at = at + np.where(has_key, 4, 0)
    seq = (flags & 0x1000) != 0
    at = at + np.where(seq, 4, 0)
    k = np.full(rows.shape[0], T_GRE, dtype=np.int64)  # IP, or a payload that is not IP
    i = ptype.copy()
    s = at.copy()
    teb = ptype == 0x6558
    i[teb] = INNER_ETHERNET
    erspan = ptype == 0x88BE
    k[erspan & ~seq], i[erspan & ~seq] = T_ERSPAN1, INNER_ETHERNET
    two = erspan & seq
    session = _be(arr, at + 2, 2) & 0x3FF
    k[two], i[two], s[two] = T_ERSPAN2, INNER_ETHERNET, at[two] + 8
    key[two] = session[two]
    three = ptype == 0x22EB
    ft = (_u8(arr, at + 10) >> 2)[three] & 0x1F
    s3 = at + 12 + np.where(_u8(arr, at + 11) & 1, 8, 0)
    k[three], s[three], key[three] = T_ERSPAN3, s3[three], session[three]
    inner_ip = np.where(ft == 2, ethertype_from_version(arr, s3[three]), 0)
    i[three] = np.where(ft == 0, INNER_ETHERNET, inner_ip)
    k[~ok] = 0
    kind[rows], tid[rows], start[rows], inner[rows] = k, key, s, i


def _udp(
    arr: npt.NDArray[np.uint8],
    l4: I64,
    use: I64,
    rows: I64,
    kind: I64,
    tid: I64,
    start: I64,
    inner: I64,
) -> None:
    """VXLAN (RFC 7348, I flag set) and Geneve (RFC 8926, version 0) on their UDP ports."""
    first = _u8(arr, l4 + 8)
    vni = _be(arr, l4 + 12, 3)
    vxlan = ((use & UDP_VXLAN) != 0) & ((first & 0x08) != 0)
    geneve = ~vxlan & ((use & UDP_GENEVE) != 0) & ((first >> 6) == 0)
    ptype = _be(arr, l4 + 10, 2)
    k = np.zeros(rows.shape[0], dtype=np.int64)
    i = np.zeros(rows.shape[0], dtype=np.int64)
    k[vxlan], i[vxlan] = T_VXLAN, INNER_ETHERNET
    s = np.where(vxlan, l4 + 16, l4 + 16 + (first & 0x3F) * 4)
    k[geneve] = T_GENEVE
    i[geneve] = np.where(ptype[geneve] == 0x6558, INNER_ETHERNET, ptype[geneve])
    kind[rows], tid[rows], start[rows], inner[rows] = k, np.where(k != 0, vni, -1), s, i
