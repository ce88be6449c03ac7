"""Keep glibc from returning large frame buffers to the kernel after every batch.

Inputs read through a fresh buffer per chunk (gzip, live batches) get a new multi-MB
object each time. By default glibc serves such blocks with mmap and unmaps them on
free, so every chunk faults its pages in again (72k page faults per million packets
when plain files were read that way). Raising the mmap and trim thresholds lets freed
buffers be reused from the heap. A no-op where glibc's mallopt is not available.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 256 << 20
TRIM_THRESHOLD_BYTES = 1 << 30
_done = False


def tune_allocator() -> bool:
    """Set the thresholds once per process; True when glibc accepted them."""
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: glibc's, without ctypes.util
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    _done = ok
    log.debug("allocator thresholds %s", "raised" if ok else "unchanged")
    return ok
