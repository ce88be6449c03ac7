"""SHA-256 of input files, taken from the very bytes the readers read (no second pass).

:class:`HashingFile` wraps a file opened for reading: every byte that ``read`` or
``readinto`` hands out also goes to SHA-256, on one helper thread, so on a machine with a
spare core the hash costs the replay almost no wall time (hashlib lets go of the GIL for
large buffers). :meth:`HashingFile.hexdigest` hashes whatever the reader left unread (a
capture that stopped at damage) and returns the digest of the whole file.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

CHUNK = 4 << 20

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """The one helper thread every HashingFile queues its updates on (in order)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
        return _pool


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 (hex) of a file's content, read in chunks; OSError when unreadable."""
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        while chunk := fp.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class HashingFile:
    """A binary file whose reads are also hashed, in file order, off the reading thread.

    The caller may reuse a buffer it filled with ``readinto`` only after its next read
    call: each read first waits for the previous update to finish (so at most one buffer
    is being hashed while the reader parses it, and never one being overwritten).
    """

    def __init__(self, raw: BinaryIO, *, threaded: bool = True) -> None:
        self.raw = raw
        self._sha = hashlib.sha256()
        self._pending: Future[None] | None = None
        self._submit: Callable[[memoryview | bytes], None] = (
            self._queue if threaded else self._update
        )

    def read(self, n: int = -1) -> bytes:
        """Like ``raw.read``; the bytes are hashed too."""
        self._wait()
        data = self.raw.read(n)
        if data:
            self._submit(data)
        return data

    def readinto(self, buffer: memoryview | bytearray) -> int:
        """Like ``raw.readinto``; the bytes read are hashed too."""
        self._wait()
        got = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        if got:
            view = memoryview(buffer)[:got]
            self._submit(view)
        return int(got or 0)

    def hexdigest(self) -> str:
        """Hash the rest of the file (what the reader did not read) and return the digest."""
        self._wait()
        while chunk := self.raw.read(CHUNK):
            self._sha.update(chunk)
        return self._sha.hexdigest()

    def close(self) -> None:
        """Wait for the pending update, then close the file."""
        self._wait()
        self.raw.close()

    def _queue(self, data: memoryview | bytes) -> None:
        self._pending = _executor().submit(self._update, data)

    def _update(self, data: memoryview | bytes) -> None:
        self._sha.update(data)
        if isinstance(data, memoryview):
            data.release()  # the reader may resize or reuse the buffer from now on

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()


def find_duplicates(paths: list[str]) -> tuple[dict[int, int], dict[int, str]]:
    """Inputs whose content repeats an earlier one: ``{index: earlier index}``, and the
    SHA-256 of every input that had to be hashed to tell.

    Only files of equal size can be equal, so only those are hashed here (a streaming
    pass, before reading); the same file named twice is known from its inode without
    hashing. Inputs that cannot be stat'ed or are no regular file are never duplicates.
    """
    by_size: dict[int, list[int]] = {}
    by_inode: dict[tuple[int, int], int] = {}
    repeats: dict[int, int] = {}
    for i, path in enumerate(paths):
        try:
            st = os.stat(path)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        inode = (st.st_dev, st.st_ino)
        if inode in by_inode:
            repeats[i] = by_inode[inode]
            continue
        by_inode[inode] = i
        by_size.setdefault(st.st_size, []).append(i)
    digests: dict[int, str] = {}
    for group in (g for g in by_size.values() if len(g) > 1):
        first_of: dict[str, int] = {}
        for i in group:
            try:
                digests[i] = sha256_file(paths[i])
            except OSError:
                continue
            earlier = first_of.setdefault(digests[i], i)
            if earlier != i:
                repeats[i] = earlier
    return repeats, digests
