"""Community ID v1 flow hashes and the EVE ``flow_id`` of a flow.

Community ID (https://github.com/corelight/community-id-spec, v1, seed 0) is the flow hash
Zeek, Suricata, Arkime and Elastic write, so that one flow can be found in each of their
logs: ``"1:" + base64(SHA-1(seed, addresses, protocol, 0, ports))`` with the endpoints in
canonical order (the smaller address, then the smaller port, first). ICMP takes the type of
the originator's message as source port and, for the request/reply types, the type of its
counterpart as destination port (so both directions hash alike), else the code (one-way:
not reordered). Protocols without ports hash the addresses and protocol only.

Computed here rather than with the ``communityid`` package (the tests' oracle): the
package validates and converts every argument on each call (about 25 us a flow), and
light flows (a flood's millions of rows, :func:`community_ids_v4`) need the message
packed for many flows at once with numpy; only the SHA-1 runs once per flow (hashlib, C).

``flow_id`` ties a flow's EVE events together (its alerts and its flow event): 51 bits
of a mix of the Community ID hash and the flow's first packet time, so it is the same in
replay and live and for the same flow on another sensor, and differs between two flows of
one 5-tuple.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import struct

import numpy as np
import numpy.typing as npt

from monitor.flow.key import v4_text
from monitor.flow.state import FlowState
from monitor.model import FlowRef

SEED = 0
FLOW_ID_BITS = 51
_FLOW_ID_MASK = (1 << FLOW_ID_BITS) - 1
_U64 = (1 << 64) - 1
IPPROTO_ICMP, IPPROTO_ICMPV6 = 1, 58
PORT_PROTOS = frozenset({1, 6, 17, 58, 132})  # ICMP, TCP, UDP, ICMPv6, SCTP
# ICMP request/reply types and their counterparts (the spec's tables, after Zeek)
ICMP_COUNTERPART = {
    IPPROTO_ICMP: {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17},
    IPPROTO_ICMPV6: {
        128: 129, 129: 128, 130: 131, 131: 130, 133: 134, 134: 133,
        135: 136, 136: 135, 139: 140, 140: 139, 144: 145, 145: 144,
    },
}  # fmt: skip

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


def packed_address(text: str) -> bytes:
    """An IPv4 or IPv6 address in network byte order (4 or 16 bytes)."""
    if ":" in text:
        return ipaddress.IPv6Address(text).packed
    return bytes(map(int, text.split(".")))


def community_hash(
    proto: int, src: str, sport: int, dst: str, dport: int, seed: int = SEED
) -> bytes:
    """The SHA-1 digest behind the Community ID of a flow (ICMP: type and code as ports)."""
    a, b = packed_address(src), packed_address(dst)
    one_way = False
    pairs = ICMP_COUNTERPART.get(proto)
    if pairs is not None:
        counterpart = pairs.get(sport)
        one_way = counterpart is None
        dport = dport if counterpart is None else counterpart
    if not one_way and (b, dport) < (a, sport):
        a, b, sport, dport = b, a, dport, sport
    message = struct.pack("!H", seed) + a + b + bytes((proto, 0))
    if proto in PORT_PROTOS:
        message += struct.pack("!HH", sport, dport)
    return hashlib.sha1(message, usedforsecurity=False).digest()  # the spec's hash


def render(digest: bytes) -> str:
    """``1:`` and the base64 of a Community ID digest."""
    return "1:" + base64.b64encode(digest).decode("ascii")


def community_id(proto: int, src: str, sport: int, dst: str, dport: int, seed: int = SEED) -> str:
    """The Community ID v1 of a flow from ``src``:``sport`` to ``dst``:``dport``."""
    return render(community_hash(proto, src, sport, dst, dport, seed))


def flow_id(digest: bytes, first_ts: float) -> int:
    """The EVE ``flow_id``: 51 bits of the flow's Community ID hash mixed with its start."""
    (bits,) = struct.unpack("<Q", struct.pack("<d", first_ts))
    return _mix_int(int.from_bytes(digest[:8], "big") ^ bits) & _FLOW_ID_MASK


def _mix_int(x: int) -> int:
    """The murmur3 finaliser on one 64-bit integer (twin of :func:`_mix_array`)."""
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & _U64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & _U64
    return x ^ (x >> 33)


def _mix_array(x: U64) -> U64:
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(33))
        x = x * np.uint64(0xFF51AFD7ED558CCD)
        x = x ^ (x >> np.uint64(33))
        x = x * np.uint64(0xC4CEB9FE1A85EC53)
        return x ^ (x >> np.uint64(33))


_MESSAGE_V4 = np.dtype(
    [("seed", ">u2"), ("a", ">u4"), ("b", ">u4"), ("proto", "u1"), ("pad", "u1"),
     ("sport", ">u2"), ("dport", ">u2")]
)  # fmt: skip


def community_hashes_v4(
    proto: I64, src: U64, sport: I64, dst: U64, dport: I64, seed: int = SEED
) -> npt.NDArray[np.uint8]:
    """The digests (n x 20 bytes) of many IPv4 TCP/UDP/SCTP flows (addresses as integers).

    ICMP needs its type mapping: use :func:`community_hash` for it.
    """
    n = proto.shape[0]
    swap = (dst < src) | ((dst == src) & (dport < sport))
    msg = np.zeros(n, dtype=_MESSAGE_V4)
    msg["seed"] = seed
    msg["a"] = np.where(swap, dst, src)
    msg["b"] = np.where(swap, src, dst)
    msg["proto"] = proto
    msg["sport"] = np.where(swap, dport, sport)
    msg["dport"] = np.where(swap, sport, dport)
    raw = msg.tobytes()
    size = _MESSAGE_V4.itemsize
    sha1 = hashlib.sha1
    digests = b"".join(
        [sha1(raw[i : i + size], usedforsecurity=False).digest() for i in range(0, n * size, size)]
    )
    return np.frombuffer(digests, dtype=np.uint8).reshape(n, 20)


def render_many(digests: npt.NDArray[np.uint8]) -> list[str]:
    """:func:`render` for the rows of ``digests`` (n x 20)."""
    raw, b64 = digests.tobytes(), binascii.b2a_base64
    return ["1:" + b64(raw[i : i + 20], newline=False).decode("ascii")
            for i in range(0, len(raw), 20)]  # fmt: skip


def flow_ids(digests: npt.NDArray[np.uint8], first_ts: npt.NDArray[np.float64]) -> U64:
    """:func:`flow_id` for many flows at once."""
    head = np.ascontiguousarray(digests[:, :8]).view(">u8").reshape(-1).astype(np.uint64)
    bits = np.ascontiguousarray(first_ts, dtype=np.float64).view(np.uint64)
    return _mix_array(head ^ bits) & np.uint64(_FLOW_ID_MASK)


# what the dissectors saw that an EVE alert reports (FlowRef.app), first of each kind
APP_OBSERVATIONS = ("sni", "quic_sni", "http_host", "user_agent", "dns_query", "tls_no_sni")


def make_flow_ref(
    proto: int, orig: str, orig_port: int, resp: str, resp_port: int, first_ts: float,
    icmp: tuple[int, int] | None = None, app: tuple[tuple[str, str, str], ...] = (),
) -> FlowRef:  # fmt: skip
    """The FlowRef of one flow (ICMP: ``icmp`` is the type and code, None when unknown)."""
    known = True
    if proto in ICMP_COUNTERPART:
        known = icmp is not None
        orig_port, resp_port = icmp or (0, 0)
    digest = community_hash(proto, orig, orig_port, resp, resp_port)
    cid = render(digest) if known else None
    return FlowRef(
        flow_id(digest, first_ts), cid, proto, orig, orig_port, resp, resp_port, first_ts, app
    )


def icmp_message(flow: FlowState) -> tuple[int, int] | None:
    """Type and code of the originator's first ICMP message (the inspector's
    ``icmp_type`` observation), None when not captured or not ICMP."""
    for obs in flow.observations:
        if obs.what == "icmp_type":
            return int(obs.value), int(obs.detail)
    return None


def flow_ref(flow: FlowState) -> FlowRef:
    """The FlowRef of ``flow``, with what its dissectors saw."""
    app: dict[str, tuple[str, str, str]] = {}
    for obs in flow.observations:
        if obs.what in APP_OBSERVATIONS and obs.what not in app:
            app[obs.what] = (obs.what, obs.value, obs.detail)
    return make_flow_ref(
        flow.proto, flow.orig_addr, flow.orig_port, flow.resp_addr, flow.resp_port,
        flow.first_ts, icmp_message(flow), tuple(app.values()),
    )  # fmt: skip


def flow_community_id(flow: FlowState) -> str | None:
    """The Community ID of ``flow`` (None: an ICMP flow whose type was not captured)."""
    sport, dport = flow.orig_port, flow.resp_port
    if flow.proto in ICMP_COUNTERPART:
        icmp = icmp_message(flow)
        if icmp is None:
            return None
        sport, dport = icmp
    return community_id(flow.proto, flow.orig_addr, sport, flow.resp_addr, dport)


def row_flow_ref(cols: dict[str, np.ndarray], slot: int) -> FlowRef:
    """The FlowRef of light flow row ``slot`` (IPv4 TCP, no payload: nothing dissected)."""
    return make_flow_ref(
        int(cols["proto"][slot]), v4_text(int(cols["orig_addr"][slot])),
        int(cols["orig_port"][slot]), v4_text(int(cols["resp_addr"][slot])),
        int(cols["resp_port"][slot]), float(cols["first_ts"][slot]),
    )  # fmt: skip
