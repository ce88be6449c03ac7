"""A closed standard output (``cctv-monitor catalog | head``) ends output quietly.

The reader has what it wanted: no traceback, no "Exception ignored" at exit, and the
command goes on with what does not need stdout (``replay`` still writes ``--report``,
``--flows`` ...) and exits with its usual status.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stdout_to_reader() -> Iterator[None]:
    """Run the block's writes to stdout (flushed at its end); a closed pipe ends them."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        stdout_closed()


def flush_stdout() -> None:
    """Flush stdout now, while a closed pipe can still be handled (not at exit, where
    Python would print "Exception ignored" and exit with status 120)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        stdout_closed()


def stdout_closed() -> None:
    """Point stdout at /dev/null so that nothing, not even the exit's flush, fails again."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return  # not a real file (a test's buffer): nothing will flush to a pipe
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
