"""Appends that are whole or not at all: no torn line or record, on a full disk or after a crash.

:func:`append_whole` hands a buffer of whole records (alert lines, pcap records) to the
kernel in one ``os.write`` on an ``O_APPEND`` descriptor. When the kernel takes only part
of it (a short write: the disk filled up in the middle) or refuses it (``ENOSPC``,
``EDQUOT``, ``EIO``), the file is cut back to the end of the last record that got in
whole, and :class:`AppendError` says how many did. Nothing is buffered in user space, so
a process that dies between two appends leaves whole records only.

What a crash or power loss may still leave at the end of a file (a line without its
newline, zeros from delayed allocation) is removed at start-up by
:func:`repair_line_tail`; the pcap writer checks its files' last record the same way.
"""

from __future__ import annotations

import bisect
import errno
import logging
import os
import stat
from collections.abc import Sequence

log = logging.getLogger(__name__)

APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
TAIL_SEARCH_BYTES = 1 << 20  # how far back repair_line_tail looks for the last newline


class AppendError(OSError):
    """An append that did not get through whole: the file now ends after ``kept`` records."""

    def __init__(self, cause: OSError, kept: int) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.kept = kept


def open_append(path: str | os.PathLike[str], *, exclusive: bool = False) -> int:
    """A descriptor appending to ``path`` (created if missing; ``exclusive``: must be new).

    Opened read-write so that a torn tail can be read back and cut off.
    """
    flags = (APPEND_FLAGS & ~os.O_WRONLY) | os.O_RDWR | (os.O_EXCL if exclusive else 0)
    return os.open(path, flags, 0o666)


def append_whole(fd: int, data: bytes | memoryview, ends: Sequence[int] | None = None) -> None:
    """Append ``data`` (records ending at the offsets ``ends``; default: one record).

    AppendError when it did not get through whole, after the file was cut back to its
    last whole record (``kept`` of them are in the file).
    """
    size = len(data)
    if size == 0:
        return
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        _write_all(fd, data, ends)  # a pipe or terminal (--alerts /dev/stdout): no cutting back
        return
    start = info.st_size
    try:
        done = os.write(fd, data)
    except OSError as exc:
        failure, done = exc, 0
    else:
        if done == size:
            return
        why = f"{os.strerror(errno.ENOSPC)} (a short write: {done} of {size} bytes)"
        failure = OSError(errno.ENOSPC, why)
    try:
        landed = max(os.fstat(fd).st_size - start, 0)
    except OSError:
        landed = done
    bounds = [size] if ends is None else list(ends)
    kept = bisect.bisect_right(bounds, min(landed, size))
    keep_bytes = bounds[kept - 1] if kept else 0
    if landed != keep_bytes:
        os.ftruncate(fd, start + keep_bytes)  # frees space: works on a full disk too
    raise AppendError(failure, kept)


def _write_all(fd: int, data: bytes | memoryview, ends: Sequence[int] | None) -> None:
    """Write all of ``data`` to a file that is not a regular file, part after part."""
    view, done = memoryview(data), 0
    while done < len(view):
        try:
            done += os.write(fd, view[done:])
        except OSError as exc:
            bounds = [len(view)] if ends is None else list(ends)
            raise AppendError(exc, bisect.bisect_right(bounds, done)) from exc


def repair_line_tail(fd: int, what: str) -> int:
    """Cut a torn last line (no newline: a crash, a full disk) off the file; bytes removed.

    Looks back at most TAIL_SEARCH_BYTES for the last newline; when there is none that
    close, the last line is ended with a newline instead, so the next one is not glued to it.
    """
    info = os.fstat(fd)
    size = info.st_size
    if not stat.S_ISREG(info.st_mode) or size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return 0
    lowest = max(size - TAIL_SEARCH_BYTES, 0)
    end = size
    while end > lowest:
        begin = max(end - 65536, lowest)
        chunk = os.pread(fd, end - begin, begin)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            keep = begin + cut + 1
            os.ftruncate(fd, keep)
            log.warning(
                "%s: the last line was cut short (%d bytes from offset %d without a newline: "
                "a crash or a full disk); removed",
                what,
                size - keep,
                keep,
            )
            return size - keep
        end = begin
    if lowest == 0:
        os.ftruncate(fd, 0)
        log.warning("%s: %d bytes without a newline (a torn first line); removed", what, size)
        return size
    os.write(fd, b"\n")
    log.warning(
        "%s: no newline in the last %d bytes (offset %d on); ended the last line",
        what,
        TAIL_SEARCH_BYTES,
        lowest,
    )
    return 0
