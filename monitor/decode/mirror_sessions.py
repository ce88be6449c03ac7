"""Which mirror sessions delivered the traffic: tunnel kind, outer endpoints, session id.

The outer tunnel is the transport between a switch and the sensor, not a device and not a
finding; the report lists it under coverage so an auditor sees how the mirror arrived.
Accounting is per batch: a batch from one session (the usual case) costs one comparison.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.decode.frames import DecodedBatch
from monitor.decode.tunnels import TUNNEL_KINDS
from monitor.model import MirrorSession

# key columns: kind, IP version, session id (8 bytes), outer addresses (v4: 8, v6: 32 bytes)
_KEY_WIDTH = 2 + 8 + 32


@dataclass(slots=True)
class MirrorSessions:
    """Mirror sessions seen so far, keyed by their raw outer header bytes."""

    sessions: dict[bytes, MirrorSession] = field(default_factory=dict)

    def add(self, d: DecodedBatch) -> None:
        """Count the tunnelled frames of ``d`` (call only when ``d.tunnel.any()``)."""
        rows = np.flatnonzero(d.tunnel)
        keys = _keys(d, rows)
        batch = d.batch
        size = np.where(batch.wirelen[rows] > 0, batch.wirelen[rows], batch.caplen[rows])
        ts = batch.ts[rows]
        if (keys == keys[0]).all():
            self._count(keys[0].tobytes(), rows.size, int(size.sum()), ts)
            return
        void = np.ascontiguousarray(keys).view(np.dtype((np.void, _KEY_WIDTH))).ravel()
        _, group = np.unique(void, return_inverse=True)
        for g in range(int(group.max()) + 1):
            members = np.flatnonzero(group == g)
            first = int(members[0])
            self._count(keys[first].tobytes(), members.size, int(size[members].sum()), ts[members])

    def _count(self, key: bytes, packets: int, size: int, ts: npt.NDArray[np.float64]) -> None:
        session = self.sessions.get(key)
        if session is None:
            session = self.sessions[key] = _session(key)
        session.packets += packets
        session.bytes += size
        first, last = float(ts.min()), float(ts.max())
        if session.first_ts is None or first < session.first_ts:
            session.first_ts = first
        if session.last_ts is None or last > session.last_ts:
            session.last_ts = last

    def summary(self) -> list[MirrorSession]:
        """The sessions, busiest first."""
        return sorted(self.sessions.values(), key=lambda s: (-s.packets, s.kind, s.outer_src))


def _keys(d: DecodedBatch, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """One row of key bytes per tunnelled frame."""
    arr = np.frombuffer(d.batch.data, dtype=np.uint8)
    at = d.outer_l3[rows]
    header = arr[np.clip(at[:, None] + np.arange(40), 0, arr.shape[0] - 1)]
    version = header[:, 0] >> 4
    keys = np.zeros((rows.size, _KEY_WIDTH), dtype=np.uint8)
    keys[:, 0] = d.tunnel[rows]
    keys[:, 1] = version
    keys[:, 2:10] = d.tunnel_id[rows].astype(">i8").view(np.uint8).reshape(-1, 8)
    v4 = version == 4
    keys[v4, 10:18] = header[v4, 12:20]
    keys[~v4, 10:42] = header[~v4, 8:40]
    return keys


def _session(key: bytes) -> MirrorSession:
    kind, version = key[0], key[1]
    session_id = int.from_bytes(key[2:10], "big", signed=True)
    if version == 4:
        src, dst = ipaddress.IPv4Address(key[10:14]), ipaddress.IPv4Address(key[14:18])
    else:
        src, dst = ipaddress.IPv6Address(key[10:26]), ipaddress.IPv6Address(key[26:42])
    return MirrorSession(
        kind=TUNNEL_KINDS.get(kind, "unknown"),
        outer_src=str(src),
        outer_dst=str(dst),
        session_id=None if session_id < 0 else session_id,
    )
