"""Damage notes of one input: what went wrong, where (byte offset), and whether reading
stopped there; shared by the pcap and pcapng readers and the format detection."""

from __future__ import annotations

import logging

from monitor.capture.window import ChunkedReader
from monitor.model import InputSummary

log = logging.getLogger(__name__)


def report_stream_end(
    sink: InputSummary, name: str, window: ChunkedReader, need: int, unit: str
) -> None:
    """Note how a capture stream ended if not cleanly: a read error, or cut inside ``unit``."""
    at = window.offset
    if window.error is not None:
        record_error(sink, f"{name}: read error at byte offset {at}: {window.error}", offset=at)
    elif window.available:
        record_error(
            sink,
            f"{name}: cut short in the middle of {unit} at byte offset "
            f"{at} ({window.available} of {need} bytes present)",
            offset=at,
        )


def record_error(
    sink: InputSummary, message: str, *, truncated: bool = True, offset: int | None = None
) -> None:
    """Note a problem with one input in its summary (and the log).

    ``offset`` is the capture byte offset (decompressed, for gzip) where reading stopped
    because of it; the first one given becomes ``sink.damage_offset``.
    """
    log.warning("%s", message)
    sink.errors.append(message)
    sink.truncated = sink.truncated or truncated
    if offset is not None and sink.damage_offset is None:
        sink.damage_offset = offset
