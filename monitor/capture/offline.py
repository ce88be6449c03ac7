"""Offline capture input: open capture files by their magic bytes and stream them merged by time.

Formats are recognised from the first bytes, never from the file name: classic pcap
(micro- and nanosecond, both byte orders), pcapng (both byte orders, several sections)
and gzip streams of either. An input that cannot be opened as a capture at all (missing,
empty, something else) gets an error in its summary and no packets; the others go on.

Plain classic pcap files take the fast path: libpcap (pcapy's ``next_batch``) walks the
records and the original lengths, which ``next_batch`` does not report, are gathered
from the record headers through a moving read window. Where libpcap fails or stops
early (a damaged record, a file cut short), the pure-Python reader takes over at the
first record libpcap did not deliver, so every readable packet comes out exactly once.
"""

from __future__ import annotations

import logging
import os
import stat
import zlib
from collections.abc import Generator, Iterator, Sequence
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from monitor.capture.allocator import tune_allocator
from monitor.capture.merge import merge_batches
from monitor.capture.pcapfile import (
    MAX_CAPLEN,
    PCAP_HEADER_LEN,
    PCAP_MAGICS,
    RECORD_HEADER_LEN,
    PcapHeader,
    PcapStreamReader,
    gather_u32,
    parse_pcap_header,
    record_error,
)
from monitor.capture.pcapng import PcapngStreamReader, pcapng_byteorder
from monitor.model import FrameBatch, InputSummary

try:  # pcapy is only the fast path; without it everything still reads, more slowly.
    import pcapy  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - pcapy-ng is a declared dependency
    pcapy = None  # type: ignore[assignment,unused-ignore]

log = logging.getLogger(__name__)

U8 = npt.NDArray[np.uint8]
GZIP_MAGIC = b"\x1f\x8b"
WINDOW_BYTES = 16 << 20
# libpcap rewrites pseudo-headers of these link types in byte-swapped (and for 220 in
# any) files; they take the pure-Python path so the frame bytes are always as stored.
_PSEUDO_HEADER_LINKTYPES = frozenset({113, 189, 220, 239, 276})
_NATIVE = "<" if np.little_endian else ">"


class OfflineSource:
    """Capture files read as one stream of FrameBatches in timestamp order across files.

    ``summaries`` holds one InputSummary per path (same order), filled while reading:
    packets, bytes (sum of wire lengths), first/last timestamp (earliest and latest seen),
    format, errors and whether the file was cut short or stopped at damage.
    """

    def __init__(self, paths: Sequence[str], batch_size: int = 4096) -> None:
        tune_allocator()
        self.paths = [os.fspath(p) for p in paths]
        self.batch_size = max(1, int(batch_size))
        self.summaries: list[InputSummary] = [InputSummary(path=p) for p in self.paths]

    @property
    def any_readable(self) -> bool:
        """True once at least one input has been opened as a capture file."""
        return any(s.format for s in self.summaries)

    def batches(self) -> Iterator[FrameBatch]:
        """Every readable frame of every input, merged by timestamp (each file in order)."""
        self.summaries = [InputSummary(path=p) for p in self.paths]
        streams = [self._counted(i) for i in range(len(self.paths))]
        if len(streams) == 1:
            yield from streams[0]
        else:
            yield from merge_batches(streams)

    def _counted(self, index: int) -> Iterator[FrameBatch]:
        """One input's batches, accounted in its summary as they pass."""
        sink = self.summaries[index]
        for batch in read_input(self.paths[index], index, self.batch_size, sink):
            if not len(batch):
                continue
            sink.packets += len(batch)
            sink.bytes += int(batch.wirelen.sum())
            lo, hi = float(batch.ts.min()), float(batch.ts.max())
            sink.first_ts = lo if sink.first_ts is None else min(sink.first_ts, lo)
            sink.last_ts = hi if sink.last_ts is None else max(sink.last_ts, hi)
            yield batch


def read_input(path: str, source: int, batch_size: int, sink: InputSummary) -> Iterator[FrameBatch]:
    """The batches of one capture file of any supported format; problems go to ``sink``.

    ``sink.format`` is set once the file is known to be a capture, so an empty format
    afterwards means the input could not be read at all.
    """
    name = os.path.basename(path)
    try:
        fobj = open(path, "rb")  # noqa: SIM115 - closed by the with below, across yields
    except OSError as exc:
        record_error(sink, f"{name}: cannot open: {exc.strerror or exc}", truncated=False)
        return
    with fobj:
        try:
            head = fobj.read(PCAP_HEADER_LEN)
        except OSError as exc:  # a directory on some systems, an I/O error
            record_error(sink, f"{name}: cannot read: {exc.strerror or exc}", truncated=False)
            return
        regular = stat.S_ISREG(os.fstat(fobj.fileno()).st_mode)
        if head[:2] == GZIP_MAGIC:
            yield from _read_gzip(fobj, head, name, source, batch_size, sink)
            return
        if head[:4] in PCAP_MAGICS and regular:
            header = _pcap_header(head, name, sink)
            if header is not None:
                sink.format = header.format
                yield from read_pcap_file(
                    path, header, source=source, batch_size=batch_size, sink=sink
                )
            return
        yield from _read_stream(fobj, head, name, source, batch_size, sink, "")


def _read_gzip(
    fobj: BinaryIO, prefix: bytes, name: str, source: int, batch_size: int, sink: InputSummary
) -> Iterator[FrameBatch]:
    """A gzip stream (whose first bytes, already read, are ``prefix``) holding a capture."""
    gz = GzipStream(fobj, prefix)
    try:
        head = gz.read(PCAP_HEADER_LEN)
    except (EOFError, zlib.error) as exc:
        record_error(sink, f"{name}: not a capture file (damaged gzip: {exc})", truncated=False)
        return
    yield from _read_stream(gz, head, name, source, batch_size, sink, ".gz")  # type: ignore[arg-type]


class GzipStream:
    """Decompresses gzip data (one or more members) from a binary stream, as ``read(n)``.

    Unlike :class:`gzip.GzipFile` it hands out every byte that decodes before damage (a
    cut-short or corrupt stream): the error is raised by the next ``read`` instead.
    """

    IN_CHUNK = 256 * 1024

    def __init__(self, fobj: BinaryIO, prefix: bytes = b"") -> None:
        self.fobj = fobj
        self._input = prefix
        self._z = zlib.decompressobj(wbits=31)
        self._error: Exception | None = None
        self._ended = False

    def read(self, n: int) -> bytes:
        """Up to ``n`` decompressed bytes; b"" at the end; raises at damage once drained."""
        parts: list[bytes] = []
        have = 0
        while have < n and not self._ended:
            if self._error is not None:
                if parts:
                    break
                error, self._error, self._ended = self._error, None, True
                raise error
            try:
                data = self._decode(n - have)
            except (zlib.error, EOFError) as exc:
                self._error = exc
                continue
            parts.append(data)
            have += len(data)
        return b"".join(parts)

    def _decode(self, limit: int) -> bytes:
        z = self._z
        if z.eof:  # a member ended: another may follow
            data = z.unused_data or self._more()
            if not data:
                self._ended = True
                return b""
            self._z = z = zlib.decompressobj(wbits=31)
        else:
            data = z.unconsumed_tail or self._more()
            if not data:
                raise EOFError("compressed file ended before the end-of-stream marker")
        return z.decompress(data, limit)

    def _more(self) -> bytes:
        data, self._input = self._input or self.fobj.read(self.IN_CHUNK), b""
        return data


def _read_stream(
    fobj: BinaryIO,
    head: bytes,
    name: str,
    source: int,
    batch_size: int,
    sink: InputSummary,
    suffix: str,
) -> Iterator[FrameBatch]:
    """The pure-Python path for any stream whose first bytes are ``head``."""
    if head[:4] in PCAP_MAGICS:
        header = _pcap_header(head, name, sink)
        if header is None:
            return
        sink.format = header.format + suffix
        reader = PcapStreamReader(
            fobj, header, name=name, source=source, batch_size=batch_size, sink=sink
        )
        yield from reader.batches()
    elif pcapng_byteorder(head) is not None:
        sink.format = "pcapng" + suffix
        ng = PcapngStreamReader(
            fobj, name=name, source=source, batch_size=batch_size, sink=sink, initial=head
        )
        yield from ng.batches()
    elif not head:
        record_error(sink, f"{name}: empty file, not a capture", truncated=False)
    else:
        what = f"starts with {head[:4].hex()}"
        record_error(sink, f"{name}: not a pcap or pcapng file ({what})", truncated=False)


def _pcap_header(head: bytes, name: str, sink: InputSummary) -> PcapHeader | None:
    """The file header, or None with the reason in ``sink`` (a file cut inside it)."""
    try:
        return parse_pcap_header(head)
    except ValueError as exc:
        record_error(sink, f"{name}: {exc}")
        return None


class FileWindow:
    """The part of a file being read, in a reused buffer moved forward as reading goes.

    Read with ``preadv`` (a plain copy from the page cache) rather than mapped: mapping
    and populating windows cost several times more than copying them on large files.
    """

    def __init__(self, fileno: int, size: int, span: int | None = None) -> None:
        self.fileno = fileno
        self.size = size
        self.span = span or WINDOW_BYTES
        self.base = 0
        self._buf = bytearray(0)
        self.u8: U8 = np.empty(0, dtype=np.uint8)

    def bytes_for(self, start: int, stop: int) -> tuple[U8, int]:
        """An array holding file bytes ``start:stop`` and the file offset of its first byte."""
        if start < self.base or stop > self.base + len(self.u8):
            self._refill(start, stop)
        return self.u8, self.base

    def _refill(self, start: int, stop: int) -> None:
        length = min(self.size, max(stop, start + self.span)) - start
        if len(self._buf) < length:
            self.u8 = np.empty(0, dtype=np.uint8)  # drop the export before resizing
            self._buf = bytearray(length)
        got = os.preadv(self.fileno, [memoryview(self._buf)[:length]], start)
        self.u8, self.base = np.frombuffer(self._buf, dtype=np.uint8, count=got), start

    def close(self) -> None:
        """Release the buffer."""
        self.u8 = np.empty(0, dtype=np.uint8)
        self._buf = bytearray(0)


class _LibpcapWalk:
    """Batches from pcapy's ``next_batch``, with original lengths gathered from the file."""

    def __init__(self, reader: Any, window: FileWindow, header: PcapHeader, source: int) -> None:
        self.reader = reader
        self.window = window
        self.header = header
        self.source = source
        self.pos = PCAP_HEADER_LEN  # file offset of the first record not yet delivered
        snap = header.snaplen
        # libpcap cuts records longer than its snapshot down to it: check those records.
        self.suspect = min(snap, MAX_CAPLEN) if snap > 0 else MAX_CAPLEN

    def batches(self, batch_size: int) -> Iterator[FrameBatch]:
        """Batches until libpcap ends, fails, or delivers something the file does not say."""
        while True:
            try:
                buf, meta = self.reader.next_batch(batch_size)
            except pcapy.PcapError as exc:  # the pure-Python reader takes over and explains
                log.debug("libpcap stopped at byte offset %d: %s", self.pos, exc)
                return
            if not meta:
                return
            batch, complete = self._convert(buf, meta)
            if batch is not None:
                yield batch
            if not complete:
                return

    def _convert(self, buf: bytes, meta: bytes) -> tuple[FrameBatch | None, bool]:
        """One next_batch result as a FrameBatch; False when the walk must stop after it."""
        m = np.frombuffer(meta, dtype=np.uint32).reshape(-1, 4)
        caplen = m[:, 3].astype(np.int64)
        ends = np.cumsum(caplen + RECORD_HEADER_LEN) + self.pos
        n = int(np.searchsorted(ends, self.window.size, side="right"))  # inside the file
        if n == 0:
            return None, False
        starts = ends[:n] - (caplen[:n] + RECORD_HEADER_LEN)
        u8, base = self.window.bytes_for(int(starts[0]), int(ends[n - 1]))
        starts -= base
        order = self.header.byteorder
        suspect = np.flatnonzero(caplen[:n] >= self.suspect)
        if suspect.size:
            bad = suspect[gather_u32(u8, starts[suspect] + 8, order) != caplen[suspect]]
            n = int(bad[0]) if bad.size else n
        complete = n == len(caplen)
        if n == 0:
            return None, False
        self.pos = int(ends[n - 1])
        wirelen = gather_u32(u8, starts[:n] + 12, order)
        ts = m[:n, 0].astype(np.float64) + m[:n, 1].astype(np.float64) * 1e-6
        offset = m[:n, 2].astype(np.int64)
        lt, src = self.header.linktype, self.source
        return FrameBatch(buf, ts, offset, caplen[:n], wirelen, lt, src), complete


def fast_path_ok(header: PcapHeader) -> bool:
    """Whether libpcap delivers exactly the stored bytes and lengths of this file."""
    if pcapy is None or header.version != (2, 4):
        return False
    swapped = header.byteorder != _NATIVE
    return not (header.linktype in _PSEUDO_HEADER_LINKTYPES and (swapped or header.linktype == 220))


def read_pcap_file(
    path: str, header: PcapHeader, *, source: int, batch_size: int, sink: InputSummary
) -> Iterator[FrameBatch]:
    """Every readable record of an uncompressed pcap file: libpcap first, then pure Python."""
    name = os.path.basename(path)
    pos = PCAP_HEADER_LEN
    if fast_path_ok(header):
        pos = yield from _libpcap_part(path, header, source, batch_size)
    with open(path, "rb") as fobj:
        if pos > PCAP_HEADER_LEN and pos >= os.fstat(fobj.fileno()).st_size:
            return
        fobj.seek(pos)
        reader = PcapStreamReader(
            fobj, header, name=name, source=source, batch_size=batch_size, sink=sink, start=pos
        )
        yield from reader.batches()


def _libpcap_part(
    path: str, header: PcapHeader, source: int, batch_size: int
) -> Generator[FrameBatch, None, int]:
    """What libpcap reads cleanly; returns the file offset of the first record it did not."""
    try:
        reader = pcapy.open_offline(path)
    except pcapy.PcapError as exc:  # the pure-Python reader explains
        log.debug("libpcap cannot open %s: %s", path, exc)
        return PCAP_HEADER_LEN
    with open(path, "rb") as fobj:
        window = FileWindow(fobj.fileno(), os.fstat(fobj.fileno()).st_size)
        walk = _LibpcapWalk(reader, window, header, source)
        try:
            yield from walk.batches(batch_size)
        finally:
            window.close()
            reader.close()
    return walk.pos
