"""Full disks for tests: an injected one (no privileges needed) and a real small tmpfs (root).

:class:`FullDisk` replaces ``os.write`` for descriptors of files under one directory the
way a file system that runs out of space behaves: a write gets as many bytes as are left
(a short write), and once nothing is left it fails with ENOSPC. ``free`` is the space
left (None: unlimited); set it to give space back.

:func:`small_tmpfs` mounts a real tmpfs of a few KiB, unmounted afterwards whatever
happens; :func:`fill` takes all its space with a filler file that the test deletes to
give the space back.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.requirements import require_root, require_tool


class FullDisk:
    """``os.write`` on files under ``root`` as on a disk with ``free`` bytes left."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, root: Path, free: int | None) -> None:
        self.root = str(root.resolve())
        self.free = free
        self.calls = 0  # writes to files under root, failed or not
        self.refused = 0  # of them: short or failed with ENOSPC
        self._real = os.write
        monkeypatch.setattr(os, "write", self._write)

    def _ours(self, fd: int) -> bool:
        try:
            return os.readlink(f"/proc/self/fd/{fd}").startswith(self.root)
        except OSError:
            return False

    def _write(self, fd: int, data: bytes | memoryview, /) -> int:
        if self.free is None or not self._ours(fd):
            if self._ours(fd):
                self.calls += 1
            return self._real(fd, data)
        self.calls += 1
        if self.free <= 0:
            self.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        part = bytes(memoryview(data)[: self.free])
        done = self._real(fd, part)
        self.free -= done
        if done < len(data):
            self.refused += 1
        return done


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "64k") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where/tmpfs`` for the duration (needs root)."""
    require_root("mounting a small tmpfs")
    require_tool("mount")
    mnt = where / "tmpfs"
    mnt.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mnt)],
        check=True,
        capture_output=True,
    )
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True)


def fill(mnt: Path) -> Path:
    """Take all the free space of ``mnt`` with a filler file (delete it to give it back)."""
    filler = mnt / "filler"
    with contextlib.suppress(OSError), open(filler, "ab", buffering=0) as f:
        while True:
            f.write(b"\0" * 4096)
    return filler
