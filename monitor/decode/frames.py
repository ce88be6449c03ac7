"""Vectorised header decoding: a FrameBatch in, one numpy column per header field out.

No Python code runs per packet here. Each step gathers a fixed window of bytes at a
per-packet offset (``arr[offsets[:, None] + arange(width)]``) and reads fields from
its columns. Frames too short for a header are masked, never read past.

The C twin in ``_headers.c`` does the same in one pass per frame and is used when
built; this numpy version is the fallback and the oracle the tests compare it with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.decode.icmp_errors import QUOTE_OFFSET, error_rows, quoted
from monitor.decode.tunnels import (
    DEFAULT_UDP_PORTS,
    INNER_ETHERNET,
    MAX_ENCAP,
    IpColumns,
    encapsulation,
    ethertype_from_version,
    gather,
)
from monitor.model import (
    DLT_RAW_ALIASES,
    IPPROTO_TCP,
    IPPROTO_UDP,
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    FrameBatch,
)
from monitor.speedups import load

_headers = load("monitor.decode._headers")

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]

LINKTYPE_PPP = 9
ETH_IPV4, ETH_IPV6, ETH_ARP = 0x0800, 0x86DD, 0x0806
ETH_VLAN = (0x8100, 0x88A8, 0x9100)
ETH_MPLS = (0x8847, 0x8848)
ETH_SADP = 0x8033
ETH_PPPOE = 0x8864
MAX_VLAN = 8  # VLAN tags read; a ninth is a decode error
ERR_VLAN, ERR_TUNNEL = 1, 2  # the ``error`` column
DECODE_ERROR_LAYERS = {ERR_VLAN: "vlan", ERR_TUNNEL: "tunnel"}
IPV6_EXT_HEADERS = (0, 43, 44, 51, 60)
# Addresses are folded into one uint64 for hashing; IPv4 keys carry this tag so an
# IPv4 address can never equal a folded IPv6 one.
V4_TAG = np.uint64(1 << 40)


@dataclass(slots=True)
class DecodedBatch:
    """Header fields of every frame of a batch (arrays of length ``n``).

    ``ip`` marks frames with a decodable IP header; for the others only ``ethertype``,
    ``wirelen`` and ``l3`` mean anything. ``src_key``/``dst_key`` are the addresses folded
    to uint64 (exact for IPv4), ``fragment`` marks non-first fragments (ports unknown).

    Mirror tunnels are removed: every column describes the innermost frame, and
    ``wirelen`` is that frame's length on the wire. ``l2`` is the offset of the Ethernet
    header the IP packet came in (-1 when none), ``tunnel`` the outermost tunnel's kind
    (``tunnels.TUNNEL_KINDS``, 0 for none), ``tunnel_id`` its session id (-1 for none),
    ``outer_l3`` the offset of its outer IP header, ``outer_src_key``/``outer_dst_key``
    that header's addresses folded like ``src_key`` (0 without a tunnel), and ``error``
    a decode error code
    (``DECODE_ERROR_LAYERS``: VLAN stack or tunnel nesting too deep).

    An ICMP error (``icmp_errors``) has the quoted packet's addresses, ports, protocol and
    ``fragment`` flag, swapped (it travels from the quoted destination), no payload,
    ``icmp_error`` set and ``quote_l3`` the offset of the quoted IP header (-1 for others);
    ``l3`` and ``version`` stay those of the error's own header. An error whose quote is
    too short for the quoted addresses (or not IP of its version) is no IP frame: its
    ``truncated_ip`` is set, as for any IP header that cannot be read.
    """

    batch: FrameBatch
    ip: Bool
    version: npt.NDArray[np.uint8]
    l3: I64
    ethertype: I64
    proto: I64
    src_key: U64
    dst_key: U64
    sport: I64
    dport: I64
    tcp_flags: I64
    payload_off: I64
    payload_len: I64
    wirelen: I64
    fragment: Bool
    truncated_ip: Bool
    l2: I64
    tunnel: npt.NDArray[np.uint8]
    tunnel_id: I64
    outer_l3: I64
    outer_src_key: U64
    outer_dst_key: U64
    error: npt.NDArray[np.uint8]
    icmp_error: Bool
    quote_l3: I64


def _be16(cols: npt.NDArray[np.uint8], at: int) -> I64:
    return (cols[:, at].astype(np.int64) << 8) | cols[:, at + 1]


def _link_layer(batch: FrameBatch, arr: npt.NDArray[np.uint8]) -> tuple[I64, I64, Bool, U8]:
    """Offset of the network header, its EtherType, which frames are known, errors."""
    off, n, lt = batch.offset, len(batch), batch.linktype
    no_error = np.zeros(n, dtype=np.uint8)
    if lt == LINKTYPE_ETHERNET:
        return _ethernet(arr, off, batch.caplen)
    if lt == LINKTYPE_LINUX_SLL:
        h = gather(arr, off, 16)
        return off + 16, _be16(h, 14), batch.caplen >= 16, no_error
    if lt == LINKTYPE_LINUX_SLL2:
        h = gather(arr, off, 2)
        return off + 20, _be16(h, 0), batch.caplen >= 20, no_error
    if lt in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, *DLT_RAW_ALIASES):
        return off, ethertype_from_version(arr, off), batch.caplen >= 1, no_error
    if lt in (LINKTYPE_NULL, LINKTYPE_LOOP):
        return off + 4, ethertype_from_version(arr, off + 4), batch.caplen >= 5, no_error
    if lt == LINKTYPE_PPP:
        return (*_ppp(arr, off, batch.caplen), no_error)
    return off, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_), no_error


def _ppp_ethertype(proto: I64) -> I64:
    return np.where(proto == 0x21, ETH_IPV4, np.where(proto == 0x57, ETH_IPV6, 0)).astype(np.int64)


def _ethernet(arr: npt.NDArray[np.uint8], off: I64, caplen: I64) -> tuple[I64, I64, Bool, U8]:
    """Ethernet II with up to eight VLAN tags (802.1Q, QinQ), then PPPoE or MPLS."""
    h = gather(arr, off + 12, 2)
    etype = _be16(h, 0)
    l3 = off + 14
    for _ in range(MAX_VLAN):
        tagged = (etype == 0x8100) | (etype == 0x88A8) | (etype == 0x9100)
        if not tagged.any():
            break
        inner = _be16(gather(arr, l3 + 2, 2), 0)
        etype = np.where(tagged, inner, etype)
        l3 = np.where(tagged, l3 + 4, l3)
    too_deep = np.isin(etype, ETH_VLAN)
    error = np.where(too_deep, ERR_VLAN, 0).astype(np.uint8)
    pppoe = etype == ETH_PPPOE
    if pppoe.any():
        ppp = _be16(gather(arr, l3 + 6, 2), 0)
        etype = np.where(pppoe, _ppp_ethertype(ppp), etype)
        l3 = np.where(pppoe, l3 + 8, l3)
    mpls = (etype == 0x8847) | (etype == 0x8848)
    if mpls.any():
        for _ in range(4):
            bottom = (gather(arr, l3 + 2, 1)[:, 0] & 1).astype(np.bool_)
            l3 = np.where(mpls, l3 + 4, l3)
            mpls &= ~bottom
        is_mpls = np.isin(etype, ETH_MPLS)
        etype = np.where(is_mpls, ethertype_from_version(arr, l3), etype)
    return l3, etype, caplen >= 14, error


def _ppp(arr: npt.NDArray[np.uint8], off: I64, caplen: I64) -> tuple[I64, I64, Bool]:
    """PPP with or without the ff 03 address/control bytes."""
    h = gather(arr, off, 4)
    has_ac = (h[:, 0] == 0xFF) & (h[:, 1] == 0x03)
    proto = np.where(has_ac, _be16(h, 2), _be16(h, 0))
    l3 = np.where(has_ac, off + 4, off + 2)
    return l3, _ppp_ethertype(proto), caplen >= 4


# dtypes of the DecodedBatch columns after ``batch``, in field order
_COLUMN_DTYPES = (
    np.bool_, np.uint8, np.int64, np.int64, np.int64, np.uint64, np.uint64, np.int64,
    np.int64, np.int64, np.int64, np.int64, np.int64, np.bool_, np.bool_, np.int64, np.uint8,
    np.int64, np.int64, np.uint64, np.uint64, np.uint8, np.bool_, np.int64,
)  # fmt: skip


def decode_batch(batch: FrameBatch, udp_ports: U8 = DEFAULT_UDP_PORTS) -> DecodedBatch:
    """Decode link, network and transport headers of every frame in ``batch``.

    ``udp_ports`` marks the UDP ports that carry VXLAN or Geneve
    (``tunnels.udp_port_table``).
    """
    if _headers is None:
        return decode_batch_numpy(batch, udp_ports)
    n = len(batch)
    columns: tuple[Any, ...] = tuple(np.empty(n, dtype=t) for t in _COLUMN_DTYPES)
    lengths = tuple(
        np.ascontiguousarray(a, dtype=np.int64) for a in (batch.offset, batch.caplen, batch.wirelen)
    )
    _headers.decode(batch.data, batch.linktype, lengths, udp_ports, columns)
    return DecodedBatch(batch, *columns)


def decode_batch_numpy(batch: FrameBatch, udp_ports: U8 = DEFAULT_UDP_PORTS) -> DecodedBatch:
    """``decode_batch`` in numpy (the fallback without the C speedup, and its oracle)."""
    arr = np.frombuffer(batch.data, dtype=np.uint8)
    n = len(batch)
    off = batch.offset
    frame_end = off + batch.caplen
    l3, etype, link_ok, error = _link_layer(batch, arr)  # copied: updated below
    l3, etype, link_ok, error = l3.copy(), etype.copy(), link_ok.copy(), error.copy()
    l2 = off.copy() if batch.linktype == LINKTYPE_ETHERNET else np.full(n, -1, dtype=np.int64)
    h = _ip_layer(arr, l3, etype, link_ok, frame_end)
    tunnel = np.zeros(n, dtype=np.uint8)
    tunnel_id = np.full(n, -1, dtype=np.int64)
    outer_l3 = np.full(n, -1, dtype=np.int64)
    outer_src, outer_dst = np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64)
    start = off.copy()
    rows = np.arange(n, dtype=np.int64)
    cur = h
    for depth in range(1, MAX_ENCAP + 2):
        e = encapsulation(arr, cur, frame_end[rows], udp_ports)
        hit = (e.kind != 0) & (e.start <= frame_end[rows])  # a cut-short header: no tunnel
        if not hit.any():
            break
        rows = rows[hit]
        if depth > MAX_ENCAP:
            error[rows] = ERR_TUNNEL
            h.ip[rows] = False
            break
        if depth == 1:
            tunnel[rows], tunnel_id[rows], outer_l3[rows] = e.kind[hit], e.id[hit], l3[rows]
            outer_src[rows], outer_dst[rows] = h.src[rows], h.dst[rows]
        begin, inner, end = e.start[hit], e.inner[hit], frame_end[rows]
        start[rows] = begin
        new_l3, new_etype, new_ok = begin.copy(), inner.copy(), end - begin >= 1
        new_l2 = np.full(rows.shape[0], -1, dtype=np.int64)
        eth = inner == INNER_ETHERNET
        if eth.any():
            el3, eet, eok, eerr = _ethernet(arr, begin[eth], end[eth] - begin[eth])
            new_l3[eth], new_etype[eth], new_ok[eth], new_l2[eth] = el3, eet, eok, begin[eth]
            error[rows[eth]] = np.where(eerr != 0, eerr, error[rows[eth]])
        l3[rows], etype[rows], link_ok[rows], l2[rows] = new_l3, new_etype, new_ok, new_l2
        cur = _ip_layer(arr, new_l3, new_etype, new_ok, end)
        for name in IpColumns.__slots__:
            getattr(h, name)[rows] = getattr(cur, name)

    ip, l4, proto, ip_end = h.ip, h.l4, h.proto, h.ip_end
    fragment = h.fragment
    t = gather(arr, l4, 14)
    has_ports = ip & ~fragment & np.isin(proto, (IPPROTO_TCP, IPPROTO_UDP)) & (l4 + 4 <= frame_end)
    sport = np.where(has_ports, _be16(t, 0), 0)
    dport = np.where(has_ports, _be16(t, 2), 0)
    tcp = has_ports & (proto == IPPROTO_TCP) & (l4 + 14 <= frame_end)
    tcp_flags = np.where(tcp, t[:, 13], 0).astype(np.int64)
    doff = np.where(tcp, (t[:, 12] >> 4).astype(np.int64) * 4, 8)
    payload_off = np.where(has_ports, l4 + doff, l4)
    data_end = np.minimum(np.where(ip_end > l3, ip_end, frame_end), frame_end)
    payload_len = np.where(ip, np.maximum(data_end - payload_off, 0), 0)

    wirelen = batch.wirelen.copy()
    unknown = wirelen <= 0
    if unknown.any():
        rebuilt = np.where(ip, np.maximum(batch.caplen, ip_end - off), batch.caplen)
        wirelen[unknown] = rebuilt[unknown]
    wirelen -= start - off
    icmp_error, quote_l3 = _take_quotes(arr, h, frame_end, sport, dport, payload_len)
    truncated_ip = (link_ok & np.isin(etype, (ETH_IPV4, ETH_IPV6))) & ~ip & (error != ERR_TUNNEL)
    return DecodedBatch(
        batch, ip, h.version, l3, etype, proto, h.src, h.dst, sport, dport, tcp_flags,
        payload_off, payload_len, wirelen, fragment, truncated_ip, l2, tunnel, tunnel_id,
        outer_l3, outer_src, outer_dst, error, icmp_error, quote_l3,
    )  # fmt: skip


def _take_quotes(
    arr: npt.NDArray[np.uint8], h: IpColumns, frame_end: I64, sport: I64, dport: I64,
    payload_len: I64,
) -> tuple[Bool, I64]:  # fmt: skip
    """Give ICMP errors the flow of the packet they quote, in place (``icmp_errors``);
    the ``icmp_error`` and ``quote_l3`` columns."""
    n = frame_end.shape[0]
    icmp_error, quote_l3 = np.zeros(n, dtype=np.bool_), np.full(n, -1, dtype=np.int64)
    rows = error_rows(arr, h.ip & ~h.fragment, h.version, h.proto, h.l4, frame_end)
    if not rows.size:
        return icmp_error, quote_l3
    v4, at, end = h.version[rows] == 4, h.l4[rows] + QUOTE_OFFSET, frame_end[rows]
    etype = np.where(v4, ETH_IPV4, ETH_IPV6)
    q = _ip_layer(arr, at, etype, np.ones(rows.size, dtype=np.bool_), end)
    payload_len[rows] = 0
    h.ip[rows[~q.ip]] = False  # an unreadable quote: no flow (``truncated_ip``)
    ok = q.ip
    good = rows[ok]
    inner = IpColumns(*(getattr(q, name)[ok] for name in IpColumns.__slots__))
    c = quoted(arr, inner, at[ok], v4[ok], end[ok])
    h.src[good], h.dst[good], sport[good], dport[good] = c.src, c.dst, c.sport, c.dport
    h.proto[good], h.fragment[good] = c.proto, c.fragment
    icmp_error[good], quote_l3[good] = True, at[ok]
    return icmp_error, quote_l3


def _ip_layer(
    arr: npt.NDArray[np.uint8], l3: I64, etype: I64, link_ok: Bool, frame_end: I64
) -> IpColumns:
    """The IPv4 or IPv6 header at ``l3`` (twin of ``ip_layer`` in ``_headers.c``)."""
    h = gather(arr, l3, 20)
    version = (h[:, 0] >> 4).astype(np.uint8)
    v4 = link_ok & (etype == ETH_IPV4) & (version == 4) & (l3 + 20 <= frame_end)
    v6 = link_ok & (etype == ETH_IPV6) & (version == 6) & (l3 + 40 <= frame_end)
    ihl = (h[:, 0] & 0x0F).astype(np.int64) * 4
    v4 &= ihl >= 20
    v4_frag = v4 & ((_be16(h, 6) & 0x1FFF) != 0)
    ip_end = l3 + _be16(h, 2)
    l4 = l3 + ihl
    proto = h[:, 9].astype(np.int64)
    src_key, dst_key = _address_keys(h, v4)
    v6_frag = np.zeros(l3.shape[0], dtype=np.bool_)
    if v6.any():
        rows = np.flatnonzero(v6)
        h6 = gather(arr, l3[rows], 40)
        ip_end[rows] = l3[rows] + 40 + _be16(h6, 4)
        l4[rows] = l3[rows] + 40
        proto[rows] = h6[:, 6]
        w = np.ascontiguousarray(h6[:, 8:40]).view(">u8").astype(np.uint64)
        src_key[rows] = _fold(w[:, 0], w[:, 1])
        dst_key[rows] = _fold(w[:, 2], w[:, 3])
        l4, proto, v6_frag = _skip_ipv6_extensions(arr, l4, proto, v6)
    return IpColumns(v4 | v6, v4_frag | v6_frag, version, ip_end, l4, proto, src_key, dst_key)


def _address_keys(h: npt.NDArray[np.uint8], v4: Bool) -> tuple[U64, U64]:
    """IPv4 source and destination as tagged uint64 keys (zero for other frames)."""
    a = np.ascontiguousarray(h[:, 12:20]).view(">u4").astype(np.uint64)
    src = np.where(v4, a[:, 0] | V4_TAG, np.uint64(0))
    dst = np.where(v4, a[:, 1] | V4_TAG, np.uint64(0))
    return src, dst


def _fold(hi: U64, lo: U64) -> U64:
    """Mix a 128-bit address into 64 bits (collisions are resolved by the flow table)."""
    with np.errstate(over="ignore"):
        x = hi * np.uint64(0x9E3779B97F4A7C15) ^ lo
        return (x ^ (x >> np.uint64(29))) | np.uint64(1 << 63)


def _skip_ipv6_extensions(
    arr: npt.NDArray[np.uint8], l4: I64, proto: I64, v6: Bool
) -> tuple[I64, I64, Bool]:
    """Walk IPv6 extension headers (hop-by-hop, routing, fragment, AH, dest options)."""
    fragment = np.zeros(l4.shape[0], dtype=np.bool_)
    for _ in range(6):
        ext = v6 & np.isin(proto, IPV6_EXT_HEADERS)
        if not ext.any():
            break
        e = gather(arr, l4, 4)
        is_frag = ext & (proto == 44)
        fragment |= is_frag & ((_be16(e, 2) & 0xFFF8) != 0)
        length = np.where(
            proto == 44,
            8,
            np.where(
                proto == 51, (e[:, 1].astype(np.int64) + 2) * 4, (e[:, 1].astype(np.int64) + 1) * 8
            ),
        )
        proto = np.where(ext, e[:, 0].astype(np.int64), proto)
        l4 = np.where(ext, l4 + length, l4)
    return l4, proto, fragment
