"""ICMP errors belong to the flow of the packet they quote.

A destination unreachable, time exceeded or parameter problem (ICMPv4 types 3, 11, 12),
or an ICMPv6 destination unreachable, packet too big, time exceeded or parameter problem
(types 1-4), carries the IP header and the first 8 bytes of the packet it answers. The
decoder gives such a frame that packet's 5-tuple seen from its destination (addresses and
ports swapped), so the flow table counts it in the quoted flow, travelling towards the
original sender, whoever sent the error (often a router on the path, which never becomes
an endpoint). A quote too short for ports keeps the addresses and protocol with port 0;
one too short for the addresses (or not IP of the same version) gives no flow at all and
counts as a truncated IP header (decode errors of layer ``ip``).

This is the numpy twin of ``icmp_quote()`` in ``_headers.c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.decode.tunnels import IpColumns, gather

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]

IPPROTO_ICMP, IPPROTO_ICMPV6 = 1, 58
V4_ERROR_TYPES = (3, 11, 12)
V6_ERROR_TYPES = (1, 2, 3, 4)
QUOTE_OFFSET = 8  # type, code, checksum and 4 bytes (unused, pointer or MTU)


@dataclass(slots=True)
class Quoted:
    """The quoted packets of some ICMP errors, as the frames' new flow columns."""

    src: U64  # the quoted destination: the error travels from its side
    dst: U64
    sport: I64
    dport: I64
    proto: I64
    fragment: Bool


def error_rows(
    arr: npt.NDArray[np.uint8], live: Bool, version: npt.NDArray[np.uint8], proto: I64,
    l4: I64, frame_end: I64,
) -> I64:  # fmt: skip
    """Frames (whole IP packets, not fragments: ``live``) that are ICMP errors."""
    v4 = version == 4
    icmp = np.where(v4, proto == IPPROTO_ICMP, (version == 6) & (proto == IPPROTO_ICMPV6))
    rows = np.flatnonzero(live & icmp & (l4 < frame_end))
    if not rows.size:
        return rows
    kind = gather(arr, l4[rows], 1)[:, 0]
    wanted = np.where(v4[rows], np.isin(kind, V4_ERROR_TYPES), np.isin(kind, V6_ERROR_TYPES))
    return rows[wanted]


def quoted(arr: npt.NDArray[np.uint8], q: IpColumns, at: I64, v4: Bool, frame_end: I64) -> Quoted:
    """The flow columns of errors whose quoted IP header ``q`` (at ``at``) is readable."""
    cut = q.l4 > frame_end  # options or extension headers cut short: no ports
    fixed = gather(arr, at + np.where(v4, 9, 6), 1)[:, 0].astype(np.int64)
    proto = np.where(cut, fixed, q.proto)
    ports = ~q.fragment & ((proto == 6) | (proto == 17)) & (q.l4 + 4 <= frame_end)
    p = gather(arr, q.l4, 4).astype(np.int64)
    sport = np.where(ports, (p[:, 2] << 8) | p[:, 3], 0)
    dport = np.where(ports, (p[:, 0] << 8) | p[:, 1], 0)
    return Quoted(q.dst, q.src, sport, dport, proto, q.fragment)
