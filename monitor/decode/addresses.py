"""Address text checks that are hot enough to skip ``ipaddress`` for."""

from __future__ import annotations


def is_dotted_quad(text: str) -> bool:
    """Whether ``text`` is an IPv4 address exactly as ``ipaddress.IPv4Address`` accepts it.

    Four ASCII decimal octets of at most 255, without leading zeros; then ``text`` is
    also its own canonical form. About ten times quicker than constructing the address.
    """
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for part in parts:
        if not (part.isascii() and part.isdigit()) or len(part) > 3:
            return False
        if int(part) > 255 or (part[0] == "0" and part != "0"):
            return False
    return True
