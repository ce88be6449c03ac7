"""DHCPv4 (BOOTP, RFC 2131/2132) messages: who asks, what it calls itself, what it runs.

Only what identifies a device is kept: the client MAC (``chaddr``), the addresses of the
exchange, the message type (option 53), the host name (12), the vendor class (60), the
client FQDN (81), the requested address (50), the server identifier (54) and the
parameter request list (55, a well-known client fingerprint). Pure and total: any bytes
give a :class:`DhcpMessage` or None, never an exception.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

BOOTP_REQUEST, BOOTP_REPLY = 1, 2
MAGIC_COOKIE = b"\x63\x82\x53\x63"
_FIXED = 236  # op .. file, before the magic cookie
_MAX_TEXT = 255
_MAX_OPTIONS = 255
MESSAGE_TYPES = {
    1: "discover",
    2: "offer",
    3: "request",
    4: "decline",
    5: "ack",
    6: "nak",
    7: "release",
    8: "inform",
}
SERVER_TYPES = frozenset({"offer", "ack", "nak"})


@dataclass(frozen=True, slots=True)
class DhcpMessage:
    """One DHCP message; ``kind`` is the option 53 name (``discover`` ... ``inform``) or
    ``bootp`` without it. Text options are printable, bounded strings."""

    op: int
    kind: str
    xid: int
    client_mac: str | None
    ciaddr: str | None
    yiaddr: str | None
    requested_ip: str | None = None
    server_id: str | None = None
    hostname: str | None = None
    vendor_class: str | None = None
    client_fqdn: str | None = None
    params: tuple[int, ...] = ()

    @property
    def from_server(self) -> bool:
        """An offer, ack or nak (or a BOOTP reply): sent by a DHCP server."""
        return self.kind in SERVER_TYPES or (self.kind == "bootp" and self.op == BOOTP_REPLY)

    @property
    def client_ip(self) -> str | None:
        """The address the client has or is given: yiaddr, else ciaddr, else option 50."""
        return self.yiaddr or self.ciaddr or self.requested_ip


def _ipv4(raw: bytes) -> str | None:
    """Dotted text of four bytes; None for 0.0.0.0 or the wrong length."""
    if len(raw) != 4 or raw == b"\x00\x00\x00\x00":
        return None
    return str(ipaddress.IPv4Address(raw))


def _text(raw: bytes) -> str | None:
    """Printable text of an option value (NULs and control characters dropped)."""
    text = raw[:_MAX_TEXT].decode("utf-8", "replace").replace("\x00", "").strip()
    text = "".join(ch for ch in text if ch.isprintable())
    return text or None


def _fqdn(raw: bytes) -> str | None:
    """Option 81: flags, two RCODEs, then a name (ASCII, or DNS wire format if flag E)."""
    if len(raw) < 4:
        return None
    name = raw[3:]
    if raw[0] & 0x04:  # E: canonical wire encoding
        labels: list[bytes] = []
        i = 0
        while i < len(name) and 0 < name[i] < 64 and len(labels) < 64:
            labels.append(name[i + 1 : i + 1 + name[i]])
            i += 1 + name[i]
        name = b".".join(labels)
    return _text(name)


def _options(data: bytes) -> dict[int, bytes]:
    """Option code -> value (first occurrence; RFC 3396 long options concatenated)."""
    out: dict[int, bytes] = {}
    i, n, seen = 0, len(data), 0
    while i < n and seen < _MAX_OPTIONS:
        code = data[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        if i + 1 >= n:
            break
        size = data[i + 1]
        value = data[i + 2 : i + 2 + size]
        out[code] = out.get(code, b"") + value
        i += 2 + size
        seen += 1
    return out


def _mac(htype: int, hlen: int, chaddr: bytes) -> str | None:
    if htype != 1 or hlen != 6 or chaddr[:6] == bytes(6):
        return None
    return chaddr[:6].hex(":")


def parse_dhcp(payload: bytes) -> DhcpMessage | None:
    """Parse a DHCP (or plain BOOTP) message from a UDP 67/68 payload; None if it is not one."""
    if len(payload) < _FIXED + 4 or payload[0] not in (BOOTP_REQUEST, BOOTP_REPLY):
        return None
    if payload[_FIXED : _FIXED + 4] != MAGIC_COOKIE:
        return None
    opts = _options(payload[_FIXED + 4 :])
    kind_code = opts.get(53, b"")[:1]
    kind = MESSAGE_TYPES.get(kind_code[0], f"type-{kind_code[0]}") if kind_code else "bootp"
    params = tuple(opts.get(55, b"")[:64])
    return DhcpMessage(
        op=payload[0],
        kind=kind,
        xid=int.from_bytes(payload[4:8], "big"),
        client_mac=_mac(payload[1], payload[2], payload[28:44]),
        ciaddr=_ipv4(payload[12:16]),
        yiaddr=_ipv4(payload[16:20]),
        requested_ip=_ipv4(opts.get(50, b"")),
        server_id=_ipv4(opts.get(54, b"")),
        hostname=_text(opts.get(12, b"")),
        vendor_class=_text(opts.get(60, b"")),
        client_fqdn=_fqdn(opts.get(81, b"")),
        params=params,
    )
