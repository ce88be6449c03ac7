"""The live sensor's evidence: the packets of flagged flows in rotating, size-capped pcaps.

A write the disk cannot take (full, quota, I/O error) never leaves a torn record: the
file is cut back to its last whole record (:mod:`monitor.capture.rotating`). The sensor
keeps sensing; the failure is counted in ``write_errors``
(``cctv_sink_write_errors_total{sink="evidence"}``) and the frames that did not get in
in ``lost_packets``, the log says so (at most once a minute while it lasts), and the
next batch simply tries again: the files resume when space returns. Evidence does not
wait in memory: a flagged flow's packets can be a video stream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from monitor.capture.durable import AppendError
from monitor.capture.rotating import RotatingPcapWriter
from monitor.live.sink import Outage
from monitor.model import FrameBatch

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EvidenceOptions:
    """Where and how much evidence to keep (rotating pcaps of flagged flows)."""

    directory: str
    max_total_bytes: int = 1024 << 20
    max_file_bytes: int = 64 << 20
    prefix: str = "evidence"


class EvidenceSink:
    """The packets of flagged flows, from the batch in which the flow was flagged on."""

    def __init__(
        self, options: EvidenceOptions, snaplen: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.options = options
        self.snaplen = snaplen
        self.packets = 0
        self.write_errors = 0
        self.lost_packets = 0
        self._lost_before = 0
        self._outage = Outage(f"evidence in {options.directory}", clock)
        self._writer: RotatingPcapWriter | None = None

    def write(self, batch: FrameBatch, mask: np.ndarray) -> None:
        """Write the frames of ``batch`` that ``mask`` selects; errors are counted, not raised."""
        try:
            writer = self._writer_for(batch.linktype)
            written = writer.write_batch(batch, mask)
        except AppendError as exc:
            self._failed(exc, exc.kept, int(np.count_nonzero(mask)))
        except (OSError, ValueError) as exc:
            self._failed(exc, 0, int(np.count_nonzero(mask)))
        else:
            self.packets += written
            lost = self.lost_packets - self._lost_before
            self._outage.recovered(f"{lost} packets could not be written meanwhile")

    def _failed(self, exc: OSError | ValueError, kept: int, chosen: int) -> None:
        self.packets += kept
        if self._outage.since is None:
            self._lost_before = self.lost_packets
        self.lost_packets += chosen - kept
        self.write_errors += 1
        error = exc if isinstance(exc, OSError) else OSError(0, str(exc))
        self._outage.failed(
            error,
            f"{self.lost_packets} packets of flagged flows not written so far; the files "
            f"end in whole records, and writing resumes when space returns",
        )

    def _writer_for(self, linktype: int) -> RotatingPcapWriter:
        writer = self._writer
        if writer is None or writer.linktype != linktype:
            if writer is not None:
                writer.close()
            o = self.options
            file_bytes = min(o.max_file_bytes, o.max_total_bytes)
            writer = RotatingPcapWriter(
                o.directory, o.prefix, linktype, file_bytes, o.max_total_bytes, self.snaplen
            )
            self._writer = writer
        return writer

    def close(self) -> None:
        """Close the file being written; log what was written and lost."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        (log.warning if self.lost_packets else log.info)("%s", self.summary())

    def summary(self) -> str:
        """What reached the evidence files and what was lost, for the stop log."""
        return (
            f"evidence: {self.packets:,} packets written, {self.lost_packets:,} lost to write "
            f"errors ({self.write_errors:,} failed writes)"
        )
