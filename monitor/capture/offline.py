"""Offline capture input: open capture files by their magic bytes and stream them merged by time.

Formats are recognised from the first bytes, never from the file name: classic pcap
(micro- and nanosecond, both byte orders), pcapng (both byte orders, several sections)
and gzip streams of either. An input that cannot be opened as a capture at all (missing,
empty, something else) gets an error in its summary and no packets; the others go on.

Records are found by the stream readers of ``pcapfile`` and ``pcapng``, whose one
per-packet loop runs in C when the speedup is built. libpcap is not used for files: it
reads several times slower here (it copies every record twice and does not report the
original length through ``next_batch``), gives up on a whole batch at a damaged
record, and refuses pcapng files whose interfaces differ in link type.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from monitor.capture.allocator import tune_allocator
from monitor.capture.merge import merge_batches
from monitor.capture.pcapfile import (
    PCAP_HEADER_LEN,
    PCAP_MAGICS,
    PcapHeader,
    PcapStreamReader,
    parse_pcap_header,
    record_error,
)
from monitor.capture.pcapng import PcapngStreamReader, pcapng_byteorder
from monitor.model import FrameBatch, InputSummary

GZIP_MAGIC = b"\x1f\x8b"


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
        if head[:2] == GZIP_MAGIC:
            yield from _read_gzip(fobj, head, name, source, batch_size, sink)
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
