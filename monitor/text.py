"""Counts and sizes as people write them, shared by evidence text, reports and alert lines."""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def plural(n: int, word: str, many: str = "") -> str:
    """``1 packet``, ``2 packets``, ``1,000 flows``; ``many`` when not just ``word + "s"``
    (``addresses``)."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {many or word + 's'}"


def human_bytes(n: int) -> str:
    """``1.5 MiB``; plain ``B`` below 1 KiB."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover
