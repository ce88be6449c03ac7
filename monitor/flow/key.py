"""Direction-agnostic flow keys, computed for a whole batch at once.

A flow is keyed by its two endpoints in canonical order (the lower (address, port)
first) plus the IP protocol; the VLAN tag is deliberately not part of the key, since
mirror ports often see one direction tagged and the other not.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from monitor.decode.frames import V4_TAG, DecodedBatch

U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_GOLDEN = 0x9E3779B97F4A7C15
SEED_VARIABLE = "CCTV_FLOW_KEY_SEED"
log = logging.getLogger(__name__)


def process_seed(environ: Mapping[str, str]) -> int:
    """This process's flow-key seed: random, or ``$CCTV_FLOW_KEY_SEED`` to repeat a run.

    Flow keys index the flow tables; with a fixed, invertible key an attacker could
    compute thousands of spoofed flows that all land in one hash bucket. Keys never
    leave the process (flow ids are sequence numbers), so a random seed changes nothing
    a user sees. A value that is no integer is ignored with a warning.
    """
    text = environ.get(SEED_VARIABLE, "")
    if text:
        try:
            return int(text, 0) & 0xFFFFFFFFFFFFFFFF
        except ValueError:
            log.warning("%s=%r is not an integer: a random seed is used", SEED_VARIABLE, text)
    return int.from_bytes(os.urandom(8), "little")


SEED = process_seed(os.environ)


def _mix(x: U64) -> U64:
    """The murmur3 finaliser: a fast, well-spread 64-bit mix."""
    x = x ^ (x >> np.uint64(33))
    x = x * _M1
    x = x ^ (x >> np.uint64(33))
    x = x * _M2
    return x ^ (x >> np.uint64(33))


def flow_keys(d: DecodedBatch, seed: int | None = None) -> tuple[U64, Bool]:
    """Per frame: the 64-bit flow key, and whether the sender is the canonical "low" side.

    Keys are keyed by ``seed`` (default: the process's :data:`SEED`).
    """
    golden = np.uint64(_GOLDEN ^ (SEED if seed is None else seed))
    sport = d.sport.astype(np.uint64)
    dport = d.dport.astype(np.uint64)
    src_low = (d.src_key < d.dst_key) | ((d.src_key == d.dst_key) & (sport <= dport))
    lo_addr = np.where(src_low, d.src_key, d.dst_key)
    hi_addr = np.where(src_low, d.dst_key, d.src_key)
    ports = np.where(src_low, (sport << np.uint64(16)) | dport, (dport << np.uint64(16)) | sport)
    with np.errstate(over="ignore"):
        key = _mix(lo_addr ^ _mix(hi_addr + golden))
        key = _mix(key ^ ((ports << np.uint64(8)) ^ d.proto.astype(np.uint64)))
    return key, src_low


def address_text(data: bytes | memoryview, l3: int, version: int, source: bool) -> str:
    """The source (or destination) address of the IP header at ``data[l3:]``, as text."""
    if version == 4:
        at = l3 + (12 if source else 16)
        a, b, c, d = data[at : at + 4]  # 10x quicker than str(IPv4Address(...))
        return f"{a}.{b}.{c}.{d}"
    at = l3 + (8 if source else 24)
    return str(ipaddress.IPv6Address(bytes(data[at : at + 16])))


def v4_text(addr: int) -> str:
    """An IPv4 address given as an integer, as dotted text."""
    return f"{addr >> 24}.{(addr >> 16) & 255}.{(addr >> 8) & 255}.{addr & 255}"


def v4_int(text: str | None) -> int | None:
    """A dotted IPv4 address as an integer (None for anything else)."""
    parts = text.split(".") if text else ()
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    a, b, c, d = (int(p) for p in parts)
    return (a << 24) | (b << 16) | (c << 8) | d


def is_v4_key(key: int) -> bool:
    """True when an address key holds an exact IPv4 address."""
    return (key >> 40) == (int(V4_TAG) >> 40)
