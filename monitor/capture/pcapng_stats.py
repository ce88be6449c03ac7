"""pcapng Interface Statistics Blocks: what each capture interface received and dropped."""

from __future__ import annotations

import struct

from monitor.audit import InterfaceDrops

BT_ISB = 0x00000005
ISB_MIN_LEN = 24  # block header, interface id, 64-bit timestamp, trailing length
OPT_ISB_IFRECV = 4
OPT_ISB_IFDROP = 5
OPT_ISB_OSDROP = 7


def parse_isb(body: bytes, order: str) -> tuple[int, dict[int, int]]:
    """The interface id of an ISB body (between block length and trailing length) and
    its 64-bit counter options by code (``isb_ifrecv``, ``isb_ifdrop``, ``isb_osdrop``)."""
    (iface,) = struct.unpack_from(order + "I", body, 0)
    counters: dict[int, int] = {}
    p = 12
    while p + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, p)
        if code == 0:
            break
        wanted = code in (OPT_ISB_IFRECV, OPT_ISB_IFDROP, OPT_ISB_OSDROP)
        if wanted and length == 8 and p + 12 <= len(body):
            counters[code] = struct.unpack_from(order + "Q", body, p + 4)[0]
        p += 4 + ((length + 3) & ~3)
    return iface, counters


class InterfaceStats:
    """The latest ISB counters per interface of one file (ISB counters are cumulative)."""

    def __init__(self) -> None:
        self.base = 0  # interfaces of the sections before the current one
        self.latest: dict[int, InterfaceDrops] = {}

    def new_section(self, interfaces_before: int) -> None:
        """A Section Header Block: interface ids start over, numbered after ``base``."""
        self.base += interfaces_before

    def add(self, body: bytes, order: str, names: list[str | None]) -> bool:
        """Note one ISB; False when it names an interface the section does not have."""
        iface, counters = parse_isb(body, order)
        if iface >= len(names):
            return False
        number = self.base + iface
        self.latest[number] = InterfaceDrops(
            interface=number,
            name=names[iface],
            received=counters.get(OPT_ISB_IFRECV),
            ifdrop=counters.get(OPT_ISB_IFDROP),
            osdrop=counters.get(OPT_ISB_OSDROP),
        )
        return True

    def listed(self) -> list[InterfaceDrops]:
        """One entry per interface with statistics, by interface number."""
        return [self.latest[k] for k in sorted(self.latest)]
