"""Which mirror sessions delivered the traffic: tunnel kind, outer endpoints, session id.

The outer tunnel is the transport between a switch and the sensor, not a device and not a
finding; the report lists it under coverage so an auditor sees how the mirror arrived.
Accounting is per batch on the decoder's columns: a batch from one session (the usual
case) costs four vectorised comparisons. Sessions are told apart by the folded outer
addresses (exact for IPv4, a 64-bit hash for IPv6).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.decode.frames import DecodedBatch
from monitor.decode.tunnels import TUNNEL_KINDS
from monitor.model import MirrorSession

SessionKey = tuple[int, int, int, int]  # tunnel kind, session id, outer src/dst keys
MAX_SESSIONS = 1024  # sessions listed one by one; further ones are counted as one "other"
OTHER: SessionKey = (-1, -1, -1, -1)


@dataclass(slots=True)
class MirrorSessions:
    """Mirror sessions seen so far, keyed by tunnel kind, session id and outer addresses."""

    sessions: dict[SessionKey, MirrorSession] = field(default_factory=dict)

    def add(self, d: DecodedBatch) -> None:
        """Count the tunnelled frames of ``d`` (call only when ``d.tunnel.any()``)."""
        rows = np.flatnonzero(d.tunnel)
        columns = (
            d.tunnel[rows].astype(np.uint64),
            d.tunnel_id[rows].astype(np.uint64),
            d.outer_src_key[rows],
            d.outer_dst_key[rows],
        )
        batch = d.batch
        size = np.where(batch.wirelen[rows] > 0, batch.wirelen[rows], batch.caplen[rows])
        ts = batch.ts[rows]
        if all((c == c[0]).all() for c in columns):  # the usual batch: one session
            self._count(d, int(rows[0]), rows.size, int(size.sum()), ts)
            return
        keys = np.stack(columns, axis=1)
        _, first, group = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        group = group.reshape(-1)
        for g, at in enumerate(first.tolist()):
            members = group == g
            self._count(d, int(rows[at]), int(members.sum()), int(size[members].sum()), ts[members])

    def _count(
        self, d: DecodedBatch, row: int, packets: int, size: int, ts: npt.NDArray[np.float64]
    ) -> None:
        key = (
            int(d.tunnel[row]),
            int(d.tunnel_id[row]),
            int(d.outer_src_key[row]),
            int(d.outer_dst_key[row]),
        )
        session = self.sessions.get(key)
        if session is None and len(self.sessions) >= MAX_SESSIONS:  # forged outer headers
            key, session = OTHER, self.sessions.get(OTHER)
            if session is None:
                session = self.sessions[OTHER] = MirrorSession("other", "*", "*", None)
        if session is None:
            session = self.sessions[key] = _session(d, row)
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


def _session(d: DecodedBatch, row: int) -> MirrorSession:
    """A new session, named from the outer IP header of frame ``row``."""
    at = int(d.outer_l3[row])
    header = bytes(d.batch.data[at : at + 40])
    src: ipaddress.IPv4Address | ipaddress.IPv6Address
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address
    if header[0] >> 4 == 4:
        src, dst = ipaddress.IPv4Address(header[12:16]), ipaddress.IPv4Address(header[16:20])
    else:
        src, dst = ipaddress.IPv6Address(header[8:24]), ipaddress.IPv6Address(header[24:40])
    session_id = int(d.tunnel_id[row])
    return MirrorSession(
        kind=TUNNEL_KINDS.get(int(d.tunnel[row]), "unknown"),
        outer_src=str(src),
        outer_dst=str(dst),
        session_id=None if session_id < 0 else session_id,
    )
