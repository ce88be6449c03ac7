"""Offline capture input: open capture files by their magic bytes and stream them merged by time.

Formats are recognised from the first bytes, never from the file name: classic pcap
(micro- and nanosecond, both byte orders), pcapng (both byte orders, several sections)
and gzip streams of either. An input that cannot be opened as a capture at all (missing,
empty, something else) gets an error in its summary and no packets; the others go on.
An input whose content (SHA-256) repeats an earlier input's is read once: the repeat
is skipped with a warning and its summary names the input it duplicates.

Records are found by the stream readers of ``pcapfile`` and ``pcapng``, whose one
per-packet loop runs in C when the speedup is built. libpcap is not used for files: it
reads several times slower here (it copies every record twice and does not report the
original length through ``next_batch``), gives up on a whole batch at a damaged
record, and refuses pcapng files whose interfaces differ in link type.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from monitor.capture.allocator import tune_allocator
from monitor.capture.damage import record_error
from monitor.capture.gzip_stream import GzipStream
from monitor.capture.hashing import HashingFile, find_duplicates
from monitor.capture.merge import merge_batches
from monitor.capture.pcapfile import (
    PCAP_HEADER_LEN,
    PCAP_MAGICS,
    PcapHeader,
    PcapStreamReader,
    parse_pcap_header,
)
from monitor.capture.pcapng import PcapngStreamReader, pcapng_byteorder
from monitor.model import FrameBatch, InputSummary

GZIP_MAGIC = b"\x1f\x8b"
log = logging.getLogger(__name__)


class OfflineSource:
    """Capture files read as one stream of FrameBatches in timestamp order across files.

    ``summaries`` holds one InputSummary per path (same order), filled while reading:
    packets, bytes (sum of wire lengths), first/last timestamp (earliest and latest seen),
    format, errors, whether the file was cut short or stopped at damage (and where), its
    size, pcapng interface statistics and, with ``hash_inputs``, its SHA-256. With
    ``skip_duplicates`` an input with the same content as an earlier one is not read.
    """

    def __init__(
        self,
        paths: Sequence[str],
        batch_size: int = 4096,
        *,
        hash_inputs: bool = False,
        skip_duplicates: bool = True,
    ) -> None:
        tune_allocator()
        self.paths = [os.fspath(p) for p in paths]
        self.batch_size = max(1, int(batch_size))
        self.hash_inputs = hash_inputs
        self.skip_duplicates = skip_duplicates
        self.summaries: list[InputSummary] = [InputSummary(path=p) for p in self.paths]

    @property
    def any_readable(self) -> bool:
        """True once at least one input has been opened as a capture file."""
        return any(s.format for s in self.summaries)

    def batches(self) -> Iterator[FrameBatch]:
        """Every readable frame of every input, merged by timestamp (each file in order)."""
        self.summaries = [InputSummary(path=p) for p in self.paths]
        repeats = self._mark_duplicates() if self.skip_duplicates else {}
        read = [i for i in range(len(self.paths)) if i not in repeats]
        streams = [self._counted(i) for i in read]
        if len(streams) == 1:
            yield from streams[0]
        else:
            yield from merge_batches(streams)
        for i, first in repeats.items():
            self.summaries[i].sha256 = self.summaries[first].sha256

    def _mark_duplicates(self) -> dict[int, int]:
        """Find inputs that repeat an earlier one's content; note them and warn."""
        if len(self.paths) < 2:
            return {}
        repeats, digests = find_duplicates(self.paths)
        for i, digest in digests.items():
            self.summaries[i].sha256 = digest
        for i, first in repeats.items():
            sink = self.summaries[i]
            sink.duplicate_of = self.paths[first]
            sink.size = _size(self.paths[i])
            log.warning(
                "%s: same content (SHA-256) as input %d (%s): counted once, this copy skipped",
                self.paths[i], first + 1, self.paths[first],
            )  # fmt: skip
        return repeats

    def _counted(self, index: int) -> Iterator[FrameBatch]:
        """One input's batches, accounted in its summary as they pass."""
        sink = self.summaries[index]
        hashing = self.hash_inputs and sink.sha256 is None
        for batch in read_input(self.paths[index], index, self.batch_size, sink, hashing):
            if not len(batch):
                continue
            sink.packets += len(batch)
            sink.bytes += int(batch.wirelen.sum())
            lo, hi = float(batch.ts.min()), float(batch.ts.max())
            sink.first_ts = lo if sink.first_ts is None else min(sink.first_ts, lo)
            sink.last_ts = hi if sink.last_ts is None else max(sink.last_ts, hi)
            yield batch


def read_input(
    path: str, source: int, batch_size: int, sink: InputSummary, hash_input: bool = False
) -> Iterator[FrameBatch]:
    """The batches of one capture file of any supported format; problems go to ``sink``.

    ``sink.format`` is set once the file is known to be a capture, so an empty format
    afterwards means the input could not be read at all. ``sink.size`` is the file's
    size; with ``hash_input`` the bytes are hashed as they are read, and once the stream
    is exhausted ``sink.sha256`` holds the digest of the whole file (the rest of a
    damaged file is hashed then).
    """
    name = os.path.basename(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the with below, across yields
        sink.size = os.fstat(raw.fileno()).st_size
    except OSError as exc:
        record_error(sink, f"{name}: cannot open: {exc.strerror or exc}", truncated=False)
        return
    fobj: BinaryIO = HashingFile(raw) if hash_input else raw  # type: ignore[assignment]
    with raw:
        try:
            head = fobj.read(PCAP_HEADER_LEN)
        except OSError as exc:  # a directory on some systems, an I/O error
            record_error(sink, f"{name}: cannot read: {exc.strerror or exc}", truncated=False)
            return
        if head[:2] == GZIP_MAGIC:
            yield from _read_gzip(fobj, head, name, source, batch_size, sink)
        else:
            yield from _read_stream(fobj, head, name, source, batch_size, sink, "")
        if isinstance(fobj, HashingFile):
            try:
                sink.sha256 = fobj.hexdigest()
            except OSError as exc:
                record_error(sink, f"{name}: cannot hash: {exc.strerror or exc}", truncated=False)


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _read_gzip(
    fobj: BinaryIO, prefix: bytes, name: str, source: int, batch_size: int, sink: InputSummary
) -> Iterator[FrameBatch]:
    """A gzip stream (whose first bytes, already read, are ``prefix``) holding a capture."""
    gz = GzipStream(fobj, prefix)
    try:
        head = gz.read(PCAP_HEADER_LEN)
    except (EOFError, zlib.error) as exc:
        message = f"{name}: not a capture file (damaged gzip: {exc})"
        record_error(sink, message, truncated=False, offset=0)
        return
    yield from _read_stream(gz, head, name, source, batch_size, sink, ".gz")  # type: ignore[arg-type]


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
        sink.read_bytes = reader.window.offset
    elif pcapng_byteorder(head) is not None:
        sink.format = "pcapng" + suffix
        ng = PcapngStreamReader(
            fobj, name=name, source=source, batch_size=batch_size, sink=sink, initial=head
        )
        yield from ng.batches()
        sink.read_bytes = ng.window.offset
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
        record_error(sink, f"{name}: {exc}", offset=0)
        return None
