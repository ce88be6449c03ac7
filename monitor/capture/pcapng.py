"""Streaming pcapng reader: sections, interfaces and packet blocks to FrameBatches.

Handles Section Header Blocks of either byte order (and several sections per file),
Interface Description Blocks (link type, snaplen, ``if_tsresol`` in both its decimal and
power-of-two forms, ``if_tsoffset``, ``if_name``), Enhanced, Simple and obsolete Packet
Blocks, and Interface Statistics Blocks (drop counters, to ``sink.interface_drops``);
every other block is skipped. Interfaces may differ in link type: a batch never mixes
them, it is cut wherever the link type changes. The runs of Enhanced and Simple Packet Blocks are
walked in C (``_records.c``) when it is built; the Python loop here is the fallback, the
test oracle, and handles every other block, damage and error message either way.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from monitor.capture.damage import record_error, report_stream_end
from monitor.capture.pcapfile import gather_u32
from monitor.capture.pcapng_stats import BT_ISB, ISB_MIN_LEN, InterfaceStats
from monitor.capture.window import stream_window
from monitor.model import FrameBatch, InputSummary
from monitor.speedups import load

_records = load("monitor.capture._records")

BT_SHB = 0x0A0D0D0A
BT_IDB = 0x00000001
BT_PB = 0x00000002
BT_SPB = 0x00000003
BT_EPB = 0x00000006
BOM_LITTLE = b"\x4d\x3c\x2b\x1a"
BOM_BIG = b"\x1a\x2b\x3c\x4d"
OPT_IF_NAME = 2
OPT_IF_TSRESOL = 9
OPT_IF_TSOFFSET = 14
BLOCK_HEADER_LEN = 12  # type, length, trailing length
MAX_BLOCK_LEN = 16 * 1024 * 1024 + 4096  # Wireshark's ceiling, plus room for options

_GO, _NEED, _FULL, _SWITCH, _STOP = range(5)
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
Buffer = bytes | memoryview  # the window: bytes from a gzip stream, a memoryview from a file
# Smallest possible length of each block type this reader decodes.
_MIN_LEN = {BT_SHB: 28, BT_IDB: 20, BT_PB: 32, BT_SPB: 16, BT_EPB: 32, BT_ISB: ISB_MIN_LEN}


@dataclass(frozen=True, slots=True)
class Interface:
    """What an IDB says about the packets that name it."""

    linktype: int
    snaplen: int
    units: int = 1_000_000  # timestamp ticks per second
    offset: int = 0  # seconds added to every timestamp
    name: str | None = None  # if_name


def pcapng_byteorder(head: bytes) -> str | None:
    """``"<"`` or ``">"`` from the first 12 bytes of a section, None if they are not one."""
    if len(head) < 12 or head[:4] != b"\x0a\x0d\x0d\x0a":
        return None
    return {BOM_LITTLE: "<", BOM_BIG: ">"}.get(head[8:12])


def _tsresol_units(v: int) -> int | None:
    """Ticks per second for an ``if_tsresol`` byte; None when no uint64 clock could hold it."""
    if v & 0x80:
        return 2 ** (v & 0x7F) if (v & 0x7F) <= 63 else None
    return 10**v if v <= 19 else None


def parse_idb(
    body: bytes, order: str, damaged: Callable[[int, str], None] | None = None
) -> Interface:
    """Decode an IDB body (everything between block length and trailing length).

    An option claiming more bytes than the block holds ends the options: the interface
    keeps what was read before it (defaults for the rest) and ``damaged`` hears where the
    bad option starts (offset into ``body``) and what it claimed.
    """
    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", body, 0)
    units, offset, name = 1_000_000, 0, None
    p = 8
    while p + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, p)
        if code == 0:
            break
        if p + 4 + length > len(body):
            if damaged is not None:
                left = len(body) - p - 4
                damaged(p, f"an interface option (code {code}) of {length} bytes, {left} left")
            break
        value = body[p + 4 : p + 4 + length]
        if code == OPT_IF_TSRESOL and length >= 1:
            units = _tsresol_units(value[0]) or units
        elif code == OPT_IF_TSOFFSET and length >= 8:
            offset = struct.unpack_from(order + "q", value)[0]
        elif code == OPT_IF_NAME:
            name = value.decode("utf-8", "replace").rstrip("\0") or None
        p += 4 + ((length + 3) & ~3)
    return Interface(linktype, snaplen, units, offset, name)


def epb_times(iface: I64, ticks: U64, interfaces: list[Interface]) -> F64:
    """UNIX seconds of Enhanced Packet Blocks from their interfaces and 64-bit tick counts."""
    units = np.array([i.units for i in interfaces], dtype=np.uint64)[iface]
    shift = np.array([i.offset for i in interfaces], dtype=np.float64)[iface]
    sec, frac = np.divmod(ticks, units)
    return shift + sec.astype(np.float64) + frac.astype(np.float64) / units.astype(np.float64)


class PcapngStreamReader:
    """Streams the packets of a pcapng stream as FrameBatches of one link type each.

    Enhanced Packet Blocks take a fast lane: the loop only notes where each block is,
    and its fields are gathered for the whole batch at once. Simple and obsolete Packet
    Blocks go through a slower general path; the two never share a batch.
    """

    def __init__(
        self,
        fobj: BinaryIO,
        *,
        name: str,
        source: int,
        batch_size: int,
        sink: InputSummary,
        initial: bytes = b"",
    ) -> None:
        self.name = name
        self.source = source
        self.batch_size = max(1, batch_size)
        self.sink = sink
        self.window = stream_window(fobj, 0, initial)
        self.interfaces: list[Interface] = []
        self._set_order("<")
        self.last_ts = 0.0  # what a Simple Packet Block (no timestamp of its own) gets
        self._need = BLOCK_HEADER_LEN
        self._skipped = 0
        self.stats = InterfaceStats()
        self._lt_cache: tuple[list[Interface], int, I64] = ([], 0, np.empty(0, np.int64))
        self._reset_pending(-1)

    def _set_order(self, order: str) -> None:
        self.order = order
        self._head = struct.Struct(order + "6I").unpack_from  # type, length, EPB fields

    def _reset_pending(self, linktype: int) -> None:
        self.p_linktype = linktype
        self.p_epb: list[int] = []  # positions of Enhanced Packet Blocks in the window
        self.p_offset: list[int] = []  # the other packet blocks, field by field
        self.p_caplen: list[int] = []
        self.p_wirelen: list[int] = []
        self.p_ts: list[float] = []
        self.c_kind = 0  # block type of the rows the C loop filled (0: none yet)
        self.c_rows = 0
        self.c_cols: list[npt.NDArray[Any]] = []  # offset caplen wirelen iface ticks ts

    @property
    def _pending(self) -> int:
        return len(self.p_epb) + len(self.p_offset) + self.c_rows

    def batches(self) -> Iterator[FrameBatch]:
        """Every readable packet, in file order; one link type per batch."""
        scan = self._scan if _records is None else self._scan_c
        while True:
            status = scan()
            if self._pending:
                yield self._flush()
            if status == _STOP:
                break
            if status == _NEED and not self.window.fill(self._need):
                self._finish()
                break
        if self._skipped:
            message = f"{self.name}: {self._skipped} unreadable packet blocks skipped"
            record_error(self.sink, message, truncated=False)

    def _scan(self) -> int:
        """Consume whole blocks from the window until a batch is due or more bytes are."""
        w = self.window
        buf, end, head, limit = w.buf, len(w.buf), self._head, self.batch_size
        epb, linktypes = self.p_epb, [i.linktype for i in self.interfaces]
        while True:
            p = w.pos
            if end - p >= 28 and not self.p_offset:  # the EPB fast lane
                btype, blen, iface, _hi, _lo, caplen = head(buf, p)
                if (
                    btype == BT_EPB
                    and 32 + caplen <= blen <= end - p
                    and not blen & 3  # what _next_block calls damage stops there too
                    and blen <= MAX_BLOCK_LEN
                    and iface < len(linktypes)
                    and linktypes[iface] == self.p_linktype
                ):
                    epb.append(p)
                    w.pos = p + blen
                    if len(epb) >= limit:
                        return _FULL
                    continue
            status = self._next_block(buf, p, end)
            if status != _GO:
                return status
            linktypes = [i.linktype for i in self.interfaces]

    def _scan_c(self) -> int:
        """``_scan`` with the runs of Enhanced and Simple Packet Blocks walked in C."""
        w = self.window
        while True:
            if not (self.p_epb or self.p_offset) and self._walk_c() == _FULL:
                return _FULL
            status = self._next_block(w.buf, w.pos, len(w.buf))  # what stopped the C loop
            if status != _GO:
                return status

    def _walk_c(self) -> int:
        """Add the packet blocks from the window's position on to the pending C rows."""
        w, size, used = self.window, self.batch_size, self.interfaces
        if not self.c_cols:
            self.c_cols = [np.empty(size, t) for t in [np.int64] * 4 + [np.uint64, np.float64]]
        cols, start, scan = self.c_cols, self.c_rows, _records.scan_pcapng  # type: ignore[union-attr]
        snaplen = used[0].snaplen if used else 0
        linktypes = self._interface_linktypes()
        n, w.pos, self.c_kind, self.p_linktype = scan(
            w.buf, w.pos, start, size, self.c_kind, self.p_linktype, self.order == ">",
            linktypes, snaplen, tuple(cols[:5]),
        )  # fmt: skip
        if n:
            stop = self.c_rows = start + n
            if self.c_kind == BT_EPB:
                cols[5][start:stop] = epb_times(cols[3][start:stop], cols[4][start:stop], used)
                self.last_ts = float(cols[5][stop - 1])
            else:
                cols[5][start:stop] = self.last_ts
        return _FULL if self.c_rows >= size else _GO

    def _interface_linktypes(self) -> I64:
        """The link type of each interface of the section, as the C loop takes them."""
        used, count, array = self._lt_cache  # holding the list keeps its id from being reused
        if used is not self.interfaces or count != len(self.interfaces):
            array = np.array([i.linktype for i in self.interfaces], dtype=np.int64)
            self._lt_cache = (self.interfaces, len(self.interfaces), array)
        return array

    def _next_block(self, buf: Buffer, p: int, end: int) -> int:
        """Frame and handle the block at ``p`` the slow way."""
        if end - p < BLOCK_HEADER_LEN:
            self._need = BLOCK_HEADER_LEN
            return _NEED
        order = self.order
        if buf[p : p + 4] == b"\x0a\x0d\x0d\x0a":
            order = {BOM_LITTLE: "<", BOM_BIG: ">"}.get(bytes(buf[p + 8 : p + 12]), "")
            if not order:
                return self._damaged(p, "a section header with no valid byte-order mark")
        btype, blen = struct.unpack_from(order + "II", buf, p)
        if blen < _MIN_LEN.get(btype, BLOCK_HEADER_LEN) or blen % 4 or blen > MAX_BLOCK_LEN:
            return self._damaged(p, f"a block (type {btype:#x}) claiming {blen} bytes")
        if end - p < blen:
            self._need = blen
            return _NEED
        status = self._block(btype, buf, p, blen, order)
        if status == _SWITCH:
            return _SWITCH
        self.window.pos = p + blen
        return _FULL if self._pending >= self.batch_size else _GO

    def _block(self, btype: int, buf: Buffer, p: int, blen: int, order: str) -> int:
        """Handle one complete block; _SWITCH leaves it unconsumed for the next batch."""
        if btype == BT_EPB:
            iface, _hi, _lo, caplen = struct.unpack_from(order + "4I", buf, p + 8)
            if not self._usable(p, blen, iface, 28 + caplen):
                return _GO
            if self._start(iface, epb=True) == _SWITCH:
                return _SWITCH
            self.p_epb.append(p)
            return _GO
        if btype == BT_SPB:
            (wirelen,) = struct.unpack_from(order + "I", buf, p + 8)
            snap = self.interfaces[0].snaplen if self.interfaces else 0
            caplen = min(wirelen, blen - 16, snap or wirelen)
            return self._slow_packet(p, blen, 0, p + 12, caplen, wirelen, None)
        if btype == BT_PB:
            iface, _drops, hi, lo, caplen, wirelen = struct.unpack_from(order + "HH4I", buf, p + 8)
            return self._slow_packet(p, blen, iface, p + 28, caplen, wirelen, (hi << 32) | lo)
        if btype == BT_IDB:
            body_at = self.window.base + p + 8
            self.interfaces.append(
                parse_idb(bytes(buf[p + 8 : p + blen - 4]), order, self._option_damage(body_at))
            )
        elif btype == BT_ISB:
            names = [i.name for i in self.interfaces]
            if self.stats.add(bytes(buf[p + 8 : p + blen - 4]), order, names):
                self.sink.interface_drops = self.stats.listed()
        elif btype == BT_SHB:
            if self._pending:
                return _SWITCH  # the pending packets name this section's interfaces
            self._set_order(order)
            self.stats.new_section(len(self.interfaces))
            self.interfaces = []
        return _GO

    def _usable(self, p: int, blen: int, iface: int, data_end: int) -> bool:
        """Whether a packet block names a known interface and holds its data; else skip it."""
        if iface < len(self.interfaces) and data_end <= blen - 4:
            return True
        self._skipped += 1
        if self._skipped == 1:
            if iface >= len(self.interfaces):
                why = f"names interface {iface} but the section has {len(self.interfaces)}"
            else:
                why = f"claims {data_end} bytes of header and data in a {blen}-byte block"
            offset = self.window.base + p
            message = f"{self.name}: packet block at byte offset {offset} {why}"
            record_error(self.sink, message, truncated=False)
        return False

    def _start(self, iface: int, *, epb: bool) -> int:
        """Make the pending batch take a packet of ``iface``: _SWITCH if it must flush first."""
        linktype = self.interfaces[iface].linktype
        other_kind = self.p_offset if epb else self.p_epb
        if self._pending and (linktype != self.p_linktype or other_kind or self.c_rows):
            return _SWITCH
        self.p_linktype = linktype
        return _GO

    def _slow_packet(
        self, p: int, blen: int, iface: int, data: int, caplen: int, wirelen: int, ticks: int | None
    ) -> int:
        """Add a Simple or obsolete Packet Block to the pending batch."""
        if not self._usable(p, blen, iface, data - p + caplen):
            return _GO
        if self._start(iface, epb=False) == _SWITCH:
            return _SWITCH
        if ticks is not None:
            info = self.interfaces[iface]
            sec, frac = divmod(ticks, info.units)
            self.last_ts = info.offset + sec + frac / info.units
        self.p_offset.append(data)
        self.p_caplen.append(caplen)
        self.p_wirelen.append(wirelen)
        self.p_ts.append(self.last_ts)
        return _GO

    def _flush(self) -> FrameBatch:
        """The pending packets as one FrameBatch; pending starts over."""
        if self.c_rows:
            offset, caplen, wirelen, _iface, _ticks, ts = (c[: self.c_rows] for c in self.c_cols)
        elif self.p_epb:
            ts, offset, caplen, wirelen = self._epb_columns()
        else:
            ts = np.asarray(self.p_ts, dtype=np.float64)
            offset = np.asarray(self.p_offset, dtype=np.int64)
            caplen = np.asarray(self.p_caplen, dtype=np.int64)
            wirelen = np.asarray(self.p_wirelen, dtype=np.int64)
        batch = FrameBatch(
            self.window.buf, ts, offset, caplen, wirelen, self.p_linktype, self.source
        )
        self._reset_pending(self.p_linktype)
        return batch

    def _epb_columns(self) -> tuple[F64, I64, I64, I64]:
        """Timestamps, data offsets, captured and wire lengths of the pending EPBs."""
        u8 = np.frombuffer(self.window.buf, dtype=np.uint8)
        pos = np.asarray(self.p_epb, dtype=np.int64)
        iface, hi, lo, caplen, wirelen = (
            gather_u32(u8, pos + k, self.order) for k in range(8, 28, 4)
        )
        ticks = (hi.astype(np.uint64) << np.uint64(32)) | lo.astype(np.uint64)
        ts = epb_times(iface, ticks, self.interfaces)
        self.last_ts = float(ts[-1])
        return ts, pos + 28, caplen, wirelen

    def _option_damage(self, body_at: int) -> Callable[[int, str], None]:
        """Reports a damaged block option at its byte offset; reading goes on."""

        def report(at: int, what: str) -> None:
            message = f"{self.name}: {what} at byte offset {body_at + at}: option ignored"
            record_error(self.sink, message, truncated=False)

        return report

    def _damaged(self, p: int, what: str) -> int:
        offset = self.window.base + p
        message = f"{self.name}: {what} at byte offset {offset}: stopped reading"
        record_error(self.sink, message, offset=offset)
        return _STOP

    def _finish(self) -> None:
        """The stream ended: say so if it ended inside a block or on a read error."""
        report_stream_end(self.sink, self.name, self.window, self._need, "a block")
