"""DNS (and mDNS) messages: header, questions and resource records, bounded and loop-safe."""

from __future__ import annotations

import dataclasses
import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

TYPE_A = 1
TYPE_NS = 2
TYPE_CNAME = 5
TYPE_PTR = 12
TYPE_MX = 15
TYPE_TXT = 16
TYPE_AAAA = 28
TYPE_SRV = 33
TYPE_DNAME = 39

_T = TypeVar("_T")
MAX_NAME_LEN = 253
_MAX_WIRE_NAME = 255  # RFC 1035 §2.3.4, counted over the expanded name
_MAX_POINTER_HOPS = 32
_MAX_TXT_CHARS = 1024
_MAX_RECORDS = 256  # per section; bounds the work a crafted 64 KiB datagram can cause
_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")
_NAME_RDATA = frozenset({TYPE_NS, TYPE_CNAME, TYPE_PTR, TYPE_DNAME})


@dataclass(frozen=True, slots=True)
class DnsQuestion:
    """One entry of the question section."""

    name: str
    qtype: int


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    """One resource record; ``value`` is text for A/AAAA/CNAME/PTR/NS/MX/SRV/TXT, else None."""

    name: str
    rtype: int
    ttl: int
    value: str | None


@dataclass(frozen=True, slots=True)
class DnsMessage:
    """A DNS message as far as it could be read; ``complete`` is False if parsing stopped early."""

    id: int
    is_response: bool
    opcode: int
    rcode: int
    questions: tuple[DnsQuestion, ...]
    answers: tuple[DnsAnswer, ...]
    authorities: tuple[DnsAnswer, ...] = ()
    additionals: tuple[DnsAnswer, ...] = ()
    truncated_flag: bool = False
    complete: bool = True

    def names(self) -> set[str]:
        """Every owner and target name in questions and answers (not the empty root)."""
        out = {q.name for q in self.questions}
        for rr in self.answers:
            out.add(rr.name)
            if rr.rtype in _NAME_RDATA and rr.value:
                out.add(rr.value)
        out.discard("")
        return out


def normalize_name(text: str) -> str | None:
    """A host name as the monitor stores it: lower case, no trailing dot, printable, <= 253.

    Whitespace and control characters are refused, so are empty names. Punycode (``xn--``)
    stays as it is; nothing is IDNA-decoded.
    """
    if text.endswith("."):
        text = text[:-1]
    if not text or len(text) > MAX_NAME_LEN:
        return None
    if not text.isprintable() or " " in text:
        return None
    return text.lower()


def _label_text(raw: bytes) -> str | None:
    if raw.isascii():
        text = raw.decode("ascii")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return text if text.isprintable() else None


def _read_name(buf: bytes, pos: int) -> tuple[str, int] | None:
    """(name, offset after it) for a possibly compressed name; loops end at the hop limit."""
    size = len(buf)
    labels: list[str] = []
    after = -1
    hops = 0
    wire_len = 1
    while True:
        if pos >= size:
            return None
        length = buf[pos]
        if length == 0:
            break
        if length >= 0xC0:  # pointer: anywhere in the message, bounded by the hop limit
            hops += 1
            if pos + 1 >= size or hops > _MAX_POINTER_HOPS:
                return None
            after = pos + 2 if after < 0 else after
            pos = ((length & 0x3F) << 8) | buf[pos + 1]
            continue
        if length > 63:  # 0x40/0x80: extended label types, obsolete and unsupported
            return None
        wire_len += length + 1
        if wire_len > _MAX_WIRE_NAME or pos + 1 + length > size:
            return None
        label = _label_text(buf[pos + 1 : pos + 1 + length])
        if label is None:
            return None
        labels.append(label)
        pos += 1 + length
    name = ".".join(labels).lower()
    if len(name) > MAX_NAME_LEN:
        return None
    return name, (after if after >= 0 else pos + 1)


def _txt_value(rdata: bytes) -> str | None:
    parts: list[str] = []
    pos = 0
    while pos < len(rdata):
        length = rdata[pos]
        chunk = rdata[pos + 1 : pos + 1 + length]
        if len(chunk) != length:
            return None
        text = chunk.decode("utf-8", "replace")
        parts.append("".join(ch if ch.isprintable() else "?" for ch in text))
        pos += 1 + length
    return "; ".join(parts)[:_MAX_TXT_CHARS]


def _target_name(buf: bytes, pos: int, end: int) -> str | None:
    parsed = _read_name(buf, pos)
    if parsed is None or parsed[1] > end:
        return None
    return parsed[0]


def _rdata_value(buf: bytes, rtype: int, pos: int, end: int) -> str | None:
    """Text for the record data, or None when the type is not decoded or the data is bad."""
    length = end - pos
    if rtype == TYPE_A:
        return ".".join(str(b) for b in buf[pos:end]) if length == 4 else None
    if rtype == TYPE_AAAA:
        return ipaddress.IPv6Address(buf[pos:end]).compressed if length == 16 else None
    if rtype in _NAME_RDATA:
        return _target_name(buf, pos, end)
    if rtype == TYPE_MX:
        return _target_name(buf, pos + 2, end) if length > 2 else None
    if rtype == TYPE_SRV:
        return _target_name(buf, pos + 6, end) if length > 6 else None
    if rtype == TYPE_TXT:
        return _txt_value(buf[pos:end])
    return None


def _read_question(buf: bytes, pos: int) -> tuple[DnsQuestion, int] | None:
    parsed = _read_name(buf, pos)
    if parsed is None:
        return None
    name, pos = parsed
    if pos + 4 > len(buf):
        return None
    qtype = (buf[pos] << 8) | buf[pos + 1]
    return DnsQuestion(name, qtype), pos + 4


def _read_record(buf: bytes, pos: int) -> tuple[DnsAnswer, int] | None:
    """One resource record; None when its framing is damaged (bad rdata only loses the value)."""
    parsed = _read_name(buf, pos)
    if parsed is None:
        return None
    name, pos = parsed
    if pos + _RR_FIXED.size > len(buf):
        return None
    rtype, _rclass, ttl, rdlength = _RR_FIXED.unpack_from(buf, pos)
    pos += _RR_FIXED.size
    end = pos + rdlength
    if end > len(buf):
        return None
    return DnsAnswer(name, rtype, ttl, _rdata_value(buf, rtype, pos, end)), end


def _read_section(
    buf: bytes, pos: int, count: int, reader: Callable[[bytes, int], tuple[_T, int] | None]
) -> tuple[list[_T], int, bool]:
    """Up to ``count`` items (at most 256); False as the last element if some were not read."""
    items: list[_T] = []
    for _ in range(min(count, _MAX_RECORDS)):
        item = reader(buf, pos)
        if item is None:
            return items, pos, False
        items.append(item[0])
        pos = item[1]
    return items, pos, count <= _MAX_RECORDS


def parse_dns(payload: bytes) -> DnsMessage | None:
    """Parse one DNS message (UDP payload). None when shorter than the 12-byte header.

    Parsing stops at the first damaged question or record; what was read before it is
    returned with ``complete=False`` (snaplen-cut answers keep their first records).
    """
    if len(payload) < _HEADER.size:
        return None
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(payload, 0)
    questions, pos, ok = _read_section(payload, _HEADER.size, qdcount, _read_question)
    sections: list[tuple[DnsAnswer, ...]] = []
    for count in (ancount, nscount, arcount):
        records, pos, done = _read_section(payload, pos, count if ok else 0, _read_record)
        ok = ok and done
        sections.append(tuple(records))
    return DnsMessage(
        id=ident,
        is_response=bool(flags & 0x8000),
        opcode=(flags >> 11) & 0xF,
        rcode=flags & 0xF,
        questions=tuple(questions),
        answers=sections[0],
        authorities=sections[1],
        additionals=sections[2],
        truncated_flag=bool(flags & 0x0200),
        complete=ok,
    )


def parse_dns_tcp(stream: bytes, allow_partial: bool = False) -> list[DnsMessage]:
    """Parse DNS over TCP: each message is preceded by a 2-byte length.

    A last message cut short is parsed from the bytes present only with ``allow_partial``
    (use it when the stream will not grow any more, e.g. at the end of a capture).
    """
    messages: list[DnsMessage] = []
    pos = 0
    while pos + 2 <= len(stream):
        length = (stream[pos] << 8) | stream[pos + 1]
        body = stream[pos + 2 : pos + 2 + length]
        if len(body) < length and not allow_partial:
            break
        message = parse_dns(body)
        if message is not None:
            if len(body) < length:
                message = dataclasses.replace(message, complete=False)
            messages.append(message)
        pos += 2 + length
    return messages


def _service_of(name: str) -> str | None:
    labels = name.split(".")
    for i in range(len(labels) - 1):
        if labels[i + 1] in ("_tcp", "_udp") and labels[i].startswith("_"):
            service = f"{labels[i]}.{labels[i + 1]}"
            return None if service == "_dns-sd._udp" else service
    return None


def mdns_services(msg: DnsMessage) -> tuple[str, ...]:
    """DNS-SD service types (``_http._tcp``) named in questions, records and PTR targets."""
    seen: dict[str, None] = {}
    names = [q.name for q in msg.questions]
    for rr in (*msg.answers, *msg.additionals):
        names.append(rr.name)
        if rr.rtype == TYPE_PTR and rr.value:
            names.append(rr.value)
    for name in names:
        service = _service_of(name)
        if service:
            seen.setdefault(service, None)
    return tuple(seen)
