"""Pure-Python streaming reader for classic pcap records, on any binary stream.

Works on plain files and gzip streams alike, reads up to the first damaged record and
names the file and byte offset of the damage. Only the loop that finds where each record
starts runs per packet: in C (``_records.c``) when built, else in Python here, with the
header fields gathered for a whole batch at once.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from monitor.capture.damage import record_error, report_stream_end
from monitor.capture.window import stream_window
from monitor.model import FrameBatch, InputSummary
from monitor.speedups import load

_records = load("monitor.capture._records")


I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

PCAP_HEADER_LEN = 24
RECORD_HEADER_LEN = 16
MAX_CAPLEN = 262144  # Wireshark's and libpcap's largest believable record
SNAPLEN_SLACK = 65536  # a record longer than snaplen + this is damage, not a lax writer

PCAP_MAGICS: dict[bytes, tuple[str, bool]] = {
    b"\xd4\xc3\xb2\xa1": ("<", False),
    b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True),
    b"\xa1\xb2\x3c\x4d": (">", True),
}

# How the two length fields of a record header are laid out (libpcap's lengths_swapped).
LENGTHS_NORMAL, LENGTHS_SWAPPED, LENGTHS_MAYBE_SWAPPED = 0, 1, 2


@dataclass(frozen=True, slots=True)
class PcapHeader:
    """The 24-byte classic pcap file header, decoded."""

    byteorder: str  # "<" little-endian or ">" big-endian
    nano: bool
    version: tuple[int, int]
    snaplen: int
    linktype: int  # the lower 16 bits of the field (the rest is FCS information)

    @property
    def format(self) -> str:
        """``"pcap"`` or ``"pcap-ns"``."""
        return "pcap-ns" if self.nano else "pcap"

    @property
    def caplen_limit(self) -> int:
        """Records claiming more bytes than this are damage."""
        if 0 < self.snaplen < MAX_CAPLEN:
            return min(MAX_CAPLEN, self.snaplen + SNAPLEN_SLACK)
        return MAX_CAPLEN

    @property
    def lengths(self) -> int:
        """Layout of the length fields: versions before 2.3 store orig_len first."""
        major, minor = self.version
        if major < 2 or (major == 2 and minor < 3) or (major, minor) == (543, 0):
            return LENGTHS_SWAPPED
        return LENGTHS_MAYBE_SWAPPED if (major, minor) == (2, 3) else LENGTHS_NORMAL


def parse_pcap_header(head: bytes) -> PcapHeader:
    """Decode a classic pcap file header; ValueError when it is not one or is cut short."""
    magic = PCAP_MAGICS.get(head[:4])
    if magic is None:
        raise ValueError("not a classic pcap file")
    if len(head) < PCAP_HEADER_LEN:
        raise ValueError(f"cut short in the file header ({len(head)} of 24 bytes)")
    order, nano = magic
    major, minor, _zone, _sigfigs, snaplen, linktype = struct.unpack(order + "HHiIII", head[4:24])
    return PcapHeader(order, nano, (major, minor), snaplen, linktype & 0xFFFF)


def gather_u32(u8: U8, pos: I64, byteorder: str) -> I64:
    """The unsigned 32-bit integers stored at byte positions ``pos`` of ``u8``."""
    b0, b1, b2, b3 = (u8[pos + k].astype(np.int64) for k in range(4))
    if byteorder == "<":
        return b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)
    return b3 | (b2 << 8) | (b1 << 16) | (b0 << 24)


class PcapStreamReader:
    """Pure-Python streaming reader for the records of a classic pcap stream."""

    def __init__(
        self,
        fobj: BinaryIO,
        header: PcapHeader,
        *,
        name: str,
        source: int,
        batch_size: int,
        sink: InputSummary,
        start: int = PCAP_HEADER_LEN,
    ) -> None:
        self.header = header
        self.name = name
        self.source = source
        self.batch_size = max(1, batch_size)
        self.sink = sink
        self.window = stream_window(fobj, start)
        self.stopped = False
        o = header.byteorder
        self._u32 = struct.Struct(o + "I").unpack_from
        self._u32x2 = struct.Struct(o + "II").unpack_from
        self._need = RECORD_HEADER_LEN  # bytes the next record needs before it can be read
        self._layout = (header.caplen_limit, header.lengths, header.byteorder == ">", header.nano)

    def batches(self) -> Iterator[FrameBatch]:
        """Every readable record, in file order, ``batch_size`` at a time."""
        scan = self._scan_c if _records is not None else self._scan_python
        while not self.stopped:
            batch = scan()
            if batch is not None:
                yield batch
            elif not self.window.fill(self._need):
                self._finish()
                return

    def _scan_c(self) -> FrameBatch | None:
        """The complete records in the window as one batch (at most ``batch_size``), in C."""
        w, h, size = self.window, self.header, self.batch_size
        out = (np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, np.int64))
        ts = np.empty(size, np.float64)
        n, pos, need, bad = _records.scan_pcap(  # type: ignore[union-attr]  # chosen only when built
            w.buf, w.pos, size, *self._layout, (*out, ts)
        )
        if bad >= 0:
            self._damaged(w.base + pos, bad)
        self._need = need
        w.pos = pos
        if n == 0:
            return None
        offset, caplen, wirelen = (a[:n] for a in out)
        return FrameBatch(w.buf, ts[:n], offset, caplen, wirelen, h.linktype, self.source)

    def _scan_python(self) -> FrameBatch | None:
        """``_scan_c`` in Python (the fallback without the C speedup, and its oracle)."""
        positions = self._scan()
        return self._build(positions) if positions else None

    def _scan(self) -> list[int]:
        """Positions of the complete records in the window (at most one batch).

        The one per-packet loop of this reader: it reads each record's length to find
        the next record, and nothing else (the batch gathers the fields afterwards).
        """
        w = self.window
        buf, p, end = w.buf, w.pos, len(w.buf)
        limit = self.header.caplen_limit
        mode = self.header.lengths
        at = 12 if mode == LENGTHS_SWAPPED else 8
        u32, u32x2 = self._u32, self._u32x2
        positions: list[int] = []
        append = positions.append
        for _ in range(self.batch_size):
            if end - p < RECORD_HEADER_LEN:
                self._need = RECORD_HEADER_LEN
                break
            incl = min(u32x2(buf, p + 8)) if mode == LENGTHS_MAYBE_SWAPPED else u32(buf, p + at)[0]
            if incl > limit:
                self._damaged(w.base + p, incl)
                break
            if end - p < RECORD_HEADER_LEN + incl:
                self._need = RECORD_HEADER_LEN + incl
                break
            append(p)
            p += RECORD_HEADER_LEN + incl
        w.pos = p
        return positions

    def _build(self, positions: list[int]) -> FrameBatch:
        """Turn record positions in the window into a FrameBatch (vectorised)."""
        u8 = np.frombuffer(self.window.buf, dtype=np.uint8)
        pos = np.asarray(positions, dtype=np.int64)
        order = self.header.byteorder
        sec = gather_u32(u8, pos, order)
        frac = gather_u32(u8, pos + 4, order)
        first = gather_u32(u8, pos + 8, order)
        second = gather_u32(u8, pos + 12, order)
        mode = self.header.lengths
        if mode == LENGTHS_NORMAL:
            caplen, wirelen = first, second
        elif mode == LENGTHS_SWAPPED:
            caplen, wirelen = second, first
        else:
            caplen, wirelen = np.minimum(first, second), np.maximum(first, second)
        scale = 1e-9 if self.header.nano else 1e-6
        ts = sec.astype(np.float64) + frac.astype(np.float64) * scale
        return FrameBatch(
            data=self.window.buf,
            ts=ts,
            offset=pos + RECORD_HEADER_LEN,
            caplen=caplen,
            wirelen=wirelen,
            linktype=self.header.linktype,
            source=self.source,
        )

    def _damaged(self, offset: int, incl: int) -> None:
        self.stopped = True
        record_error(
            self.sink,
            f"{self.name}: record at byte offset {offset} claims {incl} bytes "
            f"(snaplen {self.header.snaplen}): stopped reading",
            offset=offset,
        )

    def _finish(self) -> None:
        """The stream ended: say so if it ended inside a record or on a read error."""
        report_stream_end(self.sink, self.name, self.window, self._need, "a packet record")
        self.stopped = True
