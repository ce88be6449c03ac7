"""Test helper: pack scapy packets (or raw frames) into a FrameBatch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from monitor.model import LINKTYPE_ETHERNET, FrameBatch


def batch_of(
    frames: Sequence[bytes | object],
    ts: Sequence[float] | None = None,
    linktype: int = LINKTYPE_ETHERNET,
    wirelen: Sequence[int] | None = None,
) -> FrameBatch:
    """A FrameBatch holding ``frames`` (bytes or scapy packets) in order."""
    raw = [f if isinstance(f, bytes) else bytes(f) for f in frames]  # type: ignore[call-overload]
    offsets = np.cumsum([0] + [len(f) for f in raw[:-1]]).astype(np.int64)
    times = np.asarray(
        ts if ts is not None else [1_700_000_000.0 + i for i in range(len(raw))], dtype=np.float64
    )
    wl = np.asarray(wirelen if wirelen is not None else [len(f) for f in raw], dtype=np.int64)
    return FrameBatch(
        b"".join(raw),
        times,
        offsets,
        np.asarray([len(f) for f in raw], dtype=np.int64),
        wl,
        linktype,
    )
