"""The C entry points check their own arguments: a wrong position or size is a ValueError,
never a read or write outside the buffers (the Python callers are not the only guard)."""

from __future__ import annotations

import numpy as np
import pytest

from monitor import speedups

_records = speedups.load("monitor.capture._records")
pytestmark = pytest.mark.skipif(_records is None, reason="C speedups not built")


def _pcap_out(rows: int) -> tuple[np.ndarray, ...]:
    ints = tuple(np.zeros(rows, dtype=np.int64) for _ in range(3))
    return (*ints, np.zeros(rows, dtype=np.float64))


@pytest.mark.parametrize("pos", [-1, -(2**40), 65])
def test_scan_pcap_rejects_a_position_outside_the_buffer(pos: int) -> None:
    with pytest.raises(ValueError, match="pos"):
        _records.scan_pcap(b"\0" * 64, pos, 4, 65535, 0, False, False, _pcap_out(4))


def test_scan_pcap_rejects_a_negative_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        _records.scan_pcap(b"\0" * 64, 0, -1, 65535, 0, False, False, _pcap_out(4))


@pytest.mark.parametrize("batch_size", [2**61, 2**62, 2**63 - 1])
def test_a_batch_size_whose_byte_count_overflows_is_refused(batch_size: int) -> None:
    """count * itemsize wraps for these; the length check must still see 4 rows < count."""
    with pytest.raises(ValueError, match="scan_pcap out"):
        _records.scan_pcap(b"\0" * 64, 0, batch_size, 65535, 0, False, False, _pcap_out(4))


def test_scan_pcapng_rejects_a_negative_position() -> None:
    out = (*(np.zeros(4, dtype=np.int64) for _ in range(4)), np.zeros(4, dtype=np.float64))
    linktypes = np.zeros(1, dtype=np.int64)
    with pytest.raises(ValueError, match="pos"):
        _records.scan_pcapng(b"\0" * 64, -8, 0, 4, 6, 1, False, linktypes, 65535, out)


def test_valid_arguments_still_scan_records() -> None:
    """The checks refuse only what is out of range: a real record is still read."""
    record = (7).to_bytes(4, "little") + (0).to_bytes(4, "little")
    record += (4).to_bytes(4, "little") + (60).to_bytes(4, "little") + b"abcd"
    out = _pcap_out(4)
    n, pos, _need, bad = _records.scan_pcap(record, 0, 4, 65535, 0, False, False, out)
    assert (n, pos, bad) == (1, len(record), -1)
    assert (int(out[1][0]), int(out[2][0]), float(out[3][0])) == (4, 60, 7.0)
