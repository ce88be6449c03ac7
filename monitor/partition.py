"""Flow-hash partitions of a capture for ``replay --jobs`` and ``--scheduler``.

Partition ``i`` of ``n`` accounts the frames whose flow key (:mod:`monitor.flow.key`,
the key the flow table groups by) is ``i`` modulo ``n``, so every flow lives wholly in one
partition, as each flow lives in one fanout worker of the live sensor; frames that are
not IP (ARP, raw SADP, undecodable ones) belong to partition 0.

Two things are not per flow: the name cache (DNS answers name the peers of later flows,
and decide which flows the light path may take) and the rate limits of the discovery
dissectors. So every partition also reads the DNS, discovery and DHCP datagrams of the
other partitions' flows, the *shared* frames, with its inspector only (no flow, no
counter), in frame order among its own: each partition learns the same names, at the
same moments, as a single process does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from monitor.classify.inspector import DHCP_PORTS, DISCOVERY_PORTS, DNS_PORTS, Inspector
from monitor.decode.frames import DecodedBatch, decode_batch
from monitor.flow.key import address_text, flow_keys
from monitor.model import FrameBatch

_SHARED_PORT = np.zeros(65536, dtype=np.bool_)
_SHARED_PORT[sorted(DNS_PORTS | DISCOVERY_PORTS | DHCP_PORTS)] = True
_DNS_PORT = np.zeros(65536, dtype=np.bool_)
_DNS_PORT[sorted(DNS_PORTS)] = True
_OTHER_PORT = _SHARED_PORT & ~_DNS_PORT  # mDNS (5353) is DNS here: its questions are probes
SharedRow = tuple[int, int, str, int, str, int, bytes, float]  # index, proto, src, sport, ...


def take_decoded(d: DecodedBatch, rows: npt.NDArray[np.int64], batch: FrameBatch) -> DecodedBatch:
    """The decoded columns of frames ``rows`` of ``d``, for ``batch`` (those frames)."""
    columns = {f.name: getattr(d, f.name)[rows] for f in fields(d) if f.name != "batch"}
    return DecodedBatch(batch=batch, **columns)


def take_batch(batch: FrameBatch, rows: npt.NDArray[np.int64]) -> FrameBatch:
    """The frames ``rows`` of ``batch`` (in that order), sharing its ``data``."""
    return FrameBatch(
        data=batch.data,
        ts=batch.ts[rows],
        offset=batch.offset[rows],
        caplen=batch.caplen[rows],
        wirelen=batch.wirelen[rows],
        linktype=batch.linktype,
        source=batch.source,
    )


class SharedFrames:
    """Other partitions' DNS and discovery frames of one batch, for the inspector.

    ``run(inspector, before=i)`` reads those that come before own frame ``i`` (a row of
    the partition's share of the batch) and were not read yet; without ``before``, the
    rest. The pipeline calls it as it walks its own frames, so the order is the file's.
    """

    def __init__(self, rows: list[SharedRow], own_index: npt.NDArray[np.int64]) -> None:
        self.rows = rows
        self.own_index = own_index  # own row -> frame index in the whole batch
        self.next = 0

    def run(self, inspector: Inspector, before: int | None = None) -> None:
        """Hand the shared frames up to own row ``before`` (None: all) to ``inspector``."""
        rows, at = self.rows, self.next
        limit = len(rows) if before is None else None
        end = int(self.own_index[before]) if before is not None else -1
        while at < len(rows) and (limit is not None or rows[at][0] < end):
            _, proto, src, sport, dst, dport, payload, ts = rows[at]
            inspector.shared(proto, src, sport, dst, dport, payload, ts)
            at += 1
        self.next = at


@dataclass(frozen=True, slots=True)
class Partition:
    """Partition ``index`` of ``count`` (0 <= index < count)."""

    index: int
    count: int

    def split(
        self, batch: FrameBatch, udp_ports: npt.NDArray[np.uint8]
    ) -> tuple[DecodedBatch, SharedFrames | None]:
        """This partition's frames of ``batch`` (decoded) and the shared frames among the
        others'."""
        d = decode_batch(batch, udp_ports)
        keys, _ = flow_keys(d)
        ip = d.ip
        owner = np.where(ip, keys % np.uint64(self.count), np.uint64(0))
        own = owner == np.uint64(self.index)
        own_rows = np.flatnonzero(own)
        mine = take_decoded(d, own_rows, take_batch(batch, own_rows))
        shared = ~own & ip & (d.payload_len > 0) & (_SHARED_PORT[d.sport] | _SHARED_PORT[d.dport])
        picked = np.flatnonzero(shared)
        data = batch.data
        picked = picked[~_dns_questions(d, picked, data)]
        if not picked.size:
            return mine, None
        rows: list[SharedRow] = []
        columns = (
            picked, d.proto[picked], d.l3[picked], d.version[picked], d.sport[picked],
            d.dport[picked], d.payload_off[picked], d.payload_len[picked], batch.ts[picked],
        )  # fmt: skip
        for i, proto, l3, version, sport, dport, start, length, ts in zip(
            *(c.tolist() for c in columns), strict=True
        ):
            src = address_text(data, l3, version, True)
            dst = address_text(data, l3, version, False)
            rows.append((i, proto, src, sport, dst, dport, bytes(data[start : start + length]), ts))
        return mine, SharedFrames(rows, own_rows)


def _dns_questions(
    d: DecodedBatch, rows: npt.NDArray[np.int64], data: bytes | memoryview
) -> npt.NDArray[np.bool_]:
    """Which of ``rows`` are DNS, mDNS or LLMNR questions over UDP (QR bit clear) on no
    other shared port: they teach no name and identify no sender, so another partition
    need not read them (about half the DNS frames)."""
    if not rows.size:
        return np.zeros(0, dtype=np.bool_)
    sport, dport = d.sport[rows], d.dport[rows]
    dns_only = (_DNS_PORT[sport] | _DNS_PORT[dport]) & ~(_OTHER_PORT[sport] | _OTHER_PORT[dport])
    candidates = dns_only & (d.proto[rows] == 17) & (d.payload_len[rows] >= 3)
    flags = np.frombuffer(data, dtype=np.uint8)[d.payload_off[rows[candidates]] + 2]
    question = np.zeros(rows.size, dtype=np.bool_)
    question[np.flatnonzero(candidates)] = (flags & 0x80) == 0
    return question
