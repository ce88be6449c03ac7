"""Size-capped rotating pcaps (the live sensor's evidence) whose every record is whole.

Records reach the kernel in one ``os.write`` per file per batch
(:func:`~monitor.capture.durable.append_whole`), with no buffer in user space: a write the
disk cannot take whole is cut back to the last whole record, and the next batch tries
again, so a file never holds a torn record, on a full disk or after a crash. At start-up
the newest file left by an earlier run is checked record by record and cut back to its
last whole record (a crash or power loss in the middle of a write).
"""

from __future__ import annotations

import glob
import logging
import os
import re
import struct
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from monitor.capture.durable import AppendError, append_whole, open_append
from monitor.capture.writer import DEFAULT_SNAPLEN, Closing
from monitor.model import FrameBatch

log = logging.getLogger(__name__)
PCAP_HEADER_BYTES = 24
RECORD_HEADER_BYTES = 16
_MAGIC = 0xA1B2C3D4
_MAX_CAPLEN = 262144


def pcap_header(linktype: int, snaplen: int) -> bytes:
    """The 24-byte header of a classic little-endian microsecond pcap."""
    return struct.pack("<IHHiIII", _MAGIC, 2, 4, 0, 0, snaplen, linktype)


def pcap_records(
    batch: FrameBatch, idx: npt.NDArray[np.int64], snaplen: int
) -> tuple[list[bytes | memoryview], list[int]]:
    """Header and data of each chosen frame (two parts per record) and each record's size."""
    caplen = np.minimum(batch.caplen[idx], snaplen)
    wirelen = np.maximum(batch.wirelen[idx], batch.caplen[idx])  # 0 means "not known"
    ticks = np.rint(np.clip(batch.ts[idx], 0.0, 4294967295.999999) * 1e6).astype(np.int64)
    heads = np.stack([ticks // 1_000_000, ticks % 1_000_000, caplen, wirelen], axis=1)
    blob = heads.astype("<u4").tobytes()
    view = memoryview(batch.data)
    parts: list[bytes | memoryview] = []
    starts = batch.offset[idx].tolist()
    for i, (start, length) in enumerate(zip(starts, caplen.tolist(), strict=True)):
        parts.append(blob[16 * i : 16 * i + 16])
        parts.append(view[start : start + length])
    return parts, (caplen + RECORD_HEADER_BYTES).tolist()


def whole_records_end(path: Path) -> int:
    """Where the last whole record of the pcap at ``path`` ends (-1: not a pcap of ours).

    A record is whole when its 16-byte header and ``caplen`` bytes are all there and the
    header is plausible (caplen 1..262144, orig_len >= caplen: zeros from a power loss
    are not records).
    """
    with open(path, "rb") as f:
        head = f.read(PCAP_HEADER_BYTES)
        if len(head) < PCAP_HEADER_BYTES:
            return 0
        if struct.unpack_from("<I", head)[0] != _MAGIC:
            return -1
        end = PCAP_HEADER_BYTES
        while True:
            rec = f.read(RECORD_HEADER_BYTES)
            if len(rec) < RECORD_HEADER_BYTES:
                return end
            caplen, orig = struct.unpack_from("<II", rec, 8)
            if not 0 < caplen <= _MAX_CAPLEN or orig < caplen:
                return end
            if len(f.read(caplen)) < caplen:
                return end
            end += RECORD_HEADER_BYTES + caplen


class RotatingPcapWriter(Closing):
    """Classic pcap files in ``directory`` with bounded size, each and all together.

    Files are named ``PREFIX-NNNNNN-YYYYmmddTHHMMSSZ.pcap`` (sequence number and the UTC
    time of their first packet) and are opened on their first frame. A new file starts
    when the next record would take the current one past ``max_file_bytes``
    (``files_rotated`` counts these); after every write the oldest files are deleted
    while all files together exceed ``max_total_bytes`` (``files_deleted``), never the
    one being written. Files left by an earlier run with the same prefix count towards
    the total and are deleted first. Every write goes straight to the kernel, so files
    read live. A write that fails raises AppendError, whose ``kept`` says how many frames
    of the batch are in the files.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        prefix: str,
        linktype: int,
        max_file_bytes: int,
        max_total_bytes: int,
        snaplen: int = DEFAULT_SNAPLEN,
    ) -> None:
        if max_file_bytes < 64 or max_total_bytes < max_file_bytes:
            raise ValueError("need 64 <= max_file_bytes <= max_total_bytes")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix, self.linktype, self.snaplen = prefix, int(linktype), int(snaplen)
        self.max_file_bytes, self.max_total_bytes = int(max_file_bytes), int(max_total_bytes)
        self.files_rotated = 0
        self.files_deleted = 0
        self.packets = 0
        self._files: list[tuple[Path, int]] = self._existing()  # oldest first, with sizes
        self._seq = 1 + max((_sequence(p, prefix) for p, _ in self._files), default=0)
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0  # bytes in the current file
        self._count = 0  # records in the current file

    def _existing(self) -> list[tuple[Path, int]]:
        pattern = f"{glob.escape(self.prefix)}-*.pcap"
        found = [p for p in self.directory.glob(pattern) if _sequence(p, self.prefix) >= 0]
        found.sort(key=lambda p: _sequence(p, self.prefix))
        if found:
            _repair(found[-1])  # only the newest can have been cut short by a crash
        return [(p, p.stat().st_size) for p in found if p.exists()]

    @property
    def current_path(self) -> Path | None:
        """The file being written, if one is open."""
        return self._path

    @property
    def paths(self) -> list[Path]:
        """Every file this writer keeps, oldest first."""
        return [p for p, _ in self._files] + ([self._path] if self._path is not None else [])

    def write_batch(self, batch: FrameBatch, mask: npt.NDArray[np.bool_] | None = None) -> int:
        """Write the selected frames of ``batch``, rotating files as they fill; returns how many.

        AppendError (an OSError) when the disk took only ``kept`` of them whole.
        """
        if batch.linktype != self.linktype:
            raise ValueError(f"link type {batch.linktype} in pcaps of link type {self.linktype}")
        if mask is None:
            idx = np.arange(len(batch), dtype=np.int64)
        else:
            idx = np.flatnonzero(np.asarray(mask, dtype=bool)).astype(np.int64)
        if not idx.size:
            return 0
        parts, sizes = pcap_records(batch, idx, self.snaplen)
        done = 0
        try:
            while done < len(sizes):
                done += self._append(batch, idx, parts, sizes, done)
        except AppendError as exc:
            raise AppendError(exc, done + exc.kept) from exc
        except OSError as exc:
            raise AppendError(exc, done) from exc
        finally:
            self._after_write()
        return done

    def write_frame(self, ts: float, frame: bytes, wirelen: int = 0) -> None:
        """Write one frame, rotating and deleting files as the caps say."""
        data = np.frombuffer(frame, dtype=np.uint8)
        zero = np.zeros(1, dtype=np.int64)
        batch = FrameBatch(
            data.tobytes(), np.array([ts]), zero, zero + len(frame), zero + wirelen, self.linktype
        )
        self.write_batch(batch)

    def _append(
        self,
        batch: FrameBatch,
        idx: npt.NDArray[np.int64],
        parts: list[bytes | memoryview],
        sizes: list[int],
        first: int,
    ) -> int:
        """Append records ``first``, ... that fit the current file (one at least); how many."""
        if self._fd is not None and self._count and self._size + sizes[first] > self.max_file_bytes:
            self._close_current()
            self.files_rotated += 1
        fd = self._fd if self._fd is not None else self._open(float(batch.ts[idx[first]]))
        room, total = self.max_file_bytes - self._size, 0
        ends: list[int] = []
        for size in sizes[first:]:
            if ends and total + size > room:
                break
            total += size
            ends.append(total)
        last = first + len(ends)
        try:
            append_whole(fd, b"".join(parts[2 * first : 2 * last]), ends)
        except AppendError as exc:
            self._grew(ends[exc.kept - 1] if exc.kept else 0, exc.kept)
            raise
        self._grew(total, len(ends))
        return len(ends)

    def _grew(self, size: int, records: int) -> None:
        self._size += size
        self._count += records
        self.packets += records

    def _open(self, ts: float) -> int:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(max(ts, 0.0)))
        while True:
            path = self.directory / f"{self.prefix}-{self._seq:06d}-{stamp}.pcap"
            try:
                fd = open_append(path, exclusive=True)
                break
            except FileExistsError:
                self._seq += 1
        try:
            append_whole(fd, pcap_header(self.linktype, self.snaplen))
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)  # a file without its header is no pcap
            raise
        self._seq += 1
        self._fd, self._path, self._size, self._count = fd, path, PCAP_HEADER_BYTES, 0
        log.info("evidence file %s opened", path)
        return fd

    def _close_current(self) -> None:
        if self._fd is not None and self._path is not None:
            os.close(self._fd)
            self._files.append((self._path, self._size))
        self._fd, self._path = None, None

    def _after_write(self) -> None:
        """Delete the oldest closed files while the total is over the cap."""
        total = sum(size for _, size in self._files) + (self._size if self._fd is not None else 0)
        while total > self.max_total_bytes and self._files:
            path, size = self._files.pop(0)
            path.unlink(missing_ok=True)
            total -= size
            self.files_deleted += 1
            log.info("evidence file %s deleted (total cap %d bytes)", path, self.max_total_bytes)

    def close(self) -> None:
        """Close the file being written (idempotent)."""
        self._close_current()


def _repair(path: Path) -> None:
    """Cut ``path`` back to its last whole record (a crash in the middle of a write)."""
    try:
        size = path.stat().st_size
        end = whole_records_end(path)
        if end < 0 or end == size:
            return
        if end == 0:
            path.unlink()
            log.warning("evidence file %s: %d bytes, no whole pcap header; removed", path, size)
            return
        os.truncate(path, end)
    except OSError as exc:
        log.error("evidence file %s: could not check its last record: %s", path, exc)
        return
    log.warning(
        "evidence file %s: the last record was cut short (%d bytes from offset %d); removed",
        path,
        size - end,
        end,
    )


_SEQ_RE = re.compile(r"-(\d{6,})(?:-[0-9TZ]+)?\.pcap$")


def _sequence(path: Path, prefix: str) -> int:
    """The sequence number in a rotating file's name, -1 when it is not one of ours."""
    name = path.name
    if not name.startswith(prefix + "-"):
        return -1
    match = _SEQ_RE.fullmatch(name[len(prefix) :])
    return int(match.group(1)) if match else -1
