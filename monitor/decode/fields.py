"""Field values from untrusted discovery datagrams: printable, stripped and bounded."""

from __future__ import annotations

import re
from collections.abc import Iterable

from monitor.decode.addresses import is_dotted_quad

MAX_FIELD = 256  # characters kept of one value
MAX_EXTRA = 32  # extra (key, value) pairs kept of one datagram
_NOT_HEX = re.compile(r"[^0-9a-fA-F]")


def clean_field(value: object) -> str | None:
    """A printable, stripped, bounded field value; None when nothing is left."""
    if type(value) is str:  # the common case, without str() and isinstance
        text = value.strip()
        if text.isprintable():
            return text[:MAX_FIELD] or None
    elif value is None or isinstance(value, dict | list):
        return None
    text = str(value).replace("\x00", "").strip()
    if not text.isprintable():
        text = "".join(ch for ch in text if ch.isprintable())
    return text[:MAX_FIELD] or None


def mac_field(value: object) -> str | None:
    """A MAC address field as ``aa:bb:cc:dd:ee:ff``, or None."""
    text = clean_field(value)
    if text is None:
        return None
    digits = _NOT_HEX.sub("", text)
    if len(digits) != 12 or len(text) > 17:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2)).lower()


def ipv4_field(value: object) -> str | None:
    """An IPv4 address field, or None unless it is exactly one."""
    text = clean_field(value)
    return text if text is not None and is_dotted_quad(text) else None


def extra_fields(
    pairs: Iterable[tuple[object, object]], skip: Iterable[str] = ()
) -> tuple[tuple[str, str], ...]:
    """Printable (key, value) pairs, bounded in number and length; nested values dropped."""
    skipped = set(skip)
    out: list[tuple[str, str]] = []
    for key, value in pairs:
        if len(out) >= MAX_EXTRA:
            break
        if type(key) is str and type(value) is str:  # clean_field inline: most pairs
            name, text = key.strip(), value.strip()
            if name.isprintable() and text.isprintable():
                if name and text and name not in skipped:
                    out.append((name[:64], text[:MAX_FIELD]))
                continue
        cleaned = clean_field(key)
        if not cleaned or cleaned in skipped:
            continue
        cleaned_value = clean_field(value)
        if cleaned_value:
            out.append((cleaned[:64], cleaned_value))
    return tuple(out)
