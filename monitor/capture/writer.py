"""Capture writers: classic pcap, and pcapng for several link types (rotating pcaps: rotating.py).

A classic pcap file holds one link type. Code that may have to write frames of more
than one link type into a single file calls :func:`open_capture_writer` with every link
type it may see: for one it gets a :class:`PcapWriter` (classic microsecond pcap), for
several a :class:`PcapngWriter` (one Interface Description Block per link type). Nothing
is buffered to decide later. Both writers share ``write_batch``, ``write_frame``,
``flush``, ``close`` and the context-manager protocol.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

import numpy as np
import numpy.typing as npt

from monitor.model import FrameBatch

log = logging.getLogger(__name__)

DEFAULT_SNAPLEN = 262144
_PCAP_MAGIC_MICRO = 0xA1B2C3D4
_EPB_TYPE = 6


def _selected(batch: FrameBatch, mask: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.int64]:
    """Indices of the frames ``mask`` selects (all frames when it is None)."""
    if mask is None:
        return np.arange(len(batch), dtype=np.int64)
    return np.flatnonzero(np.asarray(mask, dtype=bool)).astype(np.int64)


def _micro(ts: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Whole seconds and microseconds of UNIX timestamps (clamped to what pcap can say)."""
    ticks = np.rint(np.clip(ts, 0.0, 4294967295.999999) * 1e6).astype(np.int64)
    return ticks // 1_000_000, ticks % 1_000_000


def _lengths(
    batch: FrameBatch, idx: npt.NDArray[np.int64], snaplen: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Bytes to store (cut to ``snaplen``) and the original length of each chosen frame."""
    caplen = np.minimum(batch.caplen[idx], snaplen)
    wirelen = np.maximum(batch.wirelen[idx], batch.caplen[idx])  # 0 means "not known"
    return caplen, wirelen


class Closing:
    """``with`` support for anything with a ``close()``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _FileWriter(Closing):
    """What both file writers share: the open file, counters, flush, close, ``with``."""

    def __init__(self, path: str | os.PathLike[str], snaplen: int) -> None:
        self.path = Path(path)
        self.snaplen = int(snaplen)
        self.packets = 0
        self.bytes_written = 0
        self._fobj: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 - closed in close()

    def _write(self, blob: bytes, packets: int) -> None:
        if self._fobj is None:
            raise ValueError(f"{self.path} is closed")
        self._fobj.write(blob)
        self.bytes_written += len(blob)
        self.packets += packets

    def flush(self) -> None:
        """Push buffered records to the operating system."""
        if self._fobj is not None:
            self._fobj.flush()

    def close(self) -> None:
        """Finish the file (idempotent)."""
        if self._fobj is not None:
            self._fobj.close()
            self._fobj = None


class PcapWriter(_FileWriter):
    """Writes a classic little-endian microsecond pcap file holding one link type.

    Frames longer than ``snaplen`` are cut to it; each record keeps the frame's true
    wire length as ``orig_len``. Frames of another link type raise ValueError: use
    :func:`open_capture_writer` when more than one link type may arrive.
    """

    def __init__(
        self, path: str | os.PathLike[str], linktype: int, snaplen: int = DEFAULT_SNAPLEN
    ) -> None:
        super().__init__(path, snaplen)
        self.linktype = int(linktype)
        head = struct.pack("<IHHiIII", _PCAP_MAGIC_MICRO, 2, 4, 0, 0, self.snaplen, self.linktype)
        self._write(head, 0)

    def write_batch(self, batch: FrameBatch, mask: npt.NDArray[np.bool_] | None = None) -> int:
        """Write the frames of ``batch`` that ``mask`` selects (all when None); returns how many."""
        if batch.linktype != self.linktype:
            raise ValueError(f"link type {batch.linktype} in a pcap of link type {self.linktype}")
        idx = _selected(batch, mask)
        if not idx.size:
            return 0
        caplen, wirelen = _lengths(batch, idx, self.snaplen)
        sec, usec = _micro(batch.ts[idx])
        headers = np.stack([sec, usec, caplen, wirelen], axis=1).astype("<u4").tobytes()
        view = memoryview(batch.data)
        parts: list[bytes | memoryview] = []
        starts = batch.offset[idx].tolist()
        for i, (start, length) in enumerate(zip(starts, caplen.tolist(), strict=True)):
            parts.append(headers[16 * i : 16 * i + 16])
            parts.append(view[start : start + length])
        self._write(b"".join(parts), int(idx.size))
        return int(idx.size)

    def write_frame(self, ts: float, frame: bytes, wirelen: int = 0) -> None:
        """Write one frame captured at ``ts`` whose original length was ``wirelen``."""
        data = bytes(frame[: self.snaplen])
        sec, usec = _micro(np.array([ts], dtype=np.float64))
        orig = max(int(wirelen), len(frame))
        self._write(struct.pack("<IIII", int(sec[0]), int(usec[0]), len(data), orig) + data, 1)


class PcapngWriter(_FileWriter):
    """Writes a pcapng file: one section, one IDB per link type, microsecond EPBs.

    IDBs for ``linktypes`` are written up front; a frame of a link type not announced
    gets its IDB added when it arrives (pcapng allows IDBs anywhere in a section).
    """

    def __init__(
        self, path: str | os.PathLike[str], linktypes: Iterable[int], snaplen: int = DEFAULT_SNAPLEN
    ) -> None:
        super().__init__(path, snaplen)
        kinds = sorted({int(lt) for lt in linktypes})
        self.linktype = kinds[0] if kinds else -1
        self.interfaces: dict[int, int] = {}
        shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        self._write(_block(0x0A0D0D0A, shb_body), 0)
        for lt in kinds:
            self._interface(lt)

    def _interface(self, linktype: int) -> int:
        """The interface number for ``linktype``, writing its IDB the first time."""
        if linktype not in self.interfaces:
            self.interfaces[linktype] = len(self.interfaces)
            self._write(_block(1, struct.pack("<HHI", linktype, 0, self.snaplen)), 0)
        return self.interfaces[linktype]

    def write_batch(self, batch: FrameBatch, mask: npt.NDArray[np.bool_] | None = None) -> int:
        """Write the frames of ``batch`` that ``mask`` selects (all when None); returns how many."""
        idx = _selected(batch, mask)
        if not idx.size:
            return 0
        iface = self._interface(batch.linktype)
        caplen, wirelen = _lengths(batch, idx, self.snaplen)
        ticks = np.rint(np.clip(batch.ts[idx], 0.0, None) * 1e6).astype(np.uint64)
        view = memoryview(batch.data)
        parts: list[bytes | memoryview] = []
        rows = zip(
            batch.offset[idx].tolist(),
            caplen.tolist(),
            wirelen.tolist(),
            ticks.tolist(),
            strict=True,
        )
        for start, length, orig, tick in rows:
            parts.append(_epb_head(iface, tick, length, orig))
            parts.append(view[start : start + length])
            parts.append(_epb_tail(length))
        self._write(b"".join(parts), int(idx.size))
        return int(idx.size)

    def write_frame(
        self, ts: float, frame: bytes, wirelen: int = 0, linktype: int | None = None
    ) -> None:
        """Write one frame (of ``linktype``, default the lowest announced one)."""
        iface = self._interface(self.linktype if linktype is None else int(linktype))
        data = bytes(frame[: self.snaplen])
        tick = round(max(ts, 0.0) * 1e6)
        orig = max(int(wirelen), len(frame))
        self._write(_epb_head(iface, tick, len(data), orig) + data + _epb_tail(len(data)), 1)


def _block(btype: int, body: bytes) -> bytes:
    """A pcapng block around ``body`` (padded to 32 bits)."""
    body += b"\0" * (-len(body) % 4)
    total = len(body) + 12
    return struct.pack("<II", btype, total) + body + struct.pack("<I", total)


def _epb_head(iface: int, tick: int, caplen: int, wirelen: int) -> bytes:
    total = 32 + caplen + (-caplen % 4)
    return struct.pack(
        "<7I", _EPB_TYPE, total, iface, tick >> 32, tick & 0xFFFFFFFF, caplen, wirelen
    )


def _epb_tail(caplen: int) -> bytes:
    return b"\0" * (-caplen % 4) + struct.pack("<I", 32 + caplen + (-caplen % 4))


def open_capture_writer(
    path: str | os.PathLike[str], linktypes: Iterable[int], snaplen: int = DEFAULT_SNAPLEN
) -> PcapWriter | PcapngWriter:
    """A classic pcap writer for one link type, a pcapng writer for several."""
    kinds = {int(lt) for lt in linktypes}
    if len(kinds) == 1:
        return PcapWriter(path, kinds.pop(), snaplen)
    return PcapngWriter(path, kinds, snaplen)
