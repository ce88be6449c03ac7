"""A lenient reader of the few X.509 fields the report shows, for certificates that
``cryptography`` refuses.

``cryptography`` holds DER to its letter: an old certificate that spells out a DEFAULT
value (``BasicConstraints cA FALSE``, a common slip of embedded firmware), or that has
another small flaw, is refused whole. Such a certificate still names its server. This
reader walks the TLV structure (RFC 5280 §4.1) for serial, issuer, validity, subject and
the subjectAltName DNS names, and does not look at anything else. Names are written as
RFC 4514 strings the way ``cryptography`` writes them (the tests hold the two readers to
the same output on certificates both read).
"""

from __future__ import annotations

from datetime import UTC, datetime

_SHORT = {
    "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.9": "STREET",
    "2.5.4.10": "O", "2.5.4.11": "OU", "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
}  # fmt: skip
_SAN = "2.5.29.17"
_CN = "2.5.4.3"


class DerError(ValueError):
    """Bytes that are not the DER (or near-DER) of a certificate."""


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the element at ``pos``."""
    if pos + 2 > len(data):
        raise DerError(f"element cut at offset {pos}")
    tag, size = data[pos], data[pos + 1]
    pos += 2
    if size & 0x80:
        count = size & 0x7F
        if not 0 < count <= 4 or pos + count > len(data):
            raise DerError(f"bad length at offset {pos - 1}")
        size = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + size > len(data):
        raise DerError(f"element at offset {pos} runs past the end")
    return tag, pos, pos + size


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        tag, vstart, vend = _tlv(data, start)
        out.append((tag, vstart, vend))
        start = vend
    return out


def _oid(raw: bytes) -> str:
    if not raw:
        raise DerError("empty object identifier")
    parts = [min(raw[0] // 40, 2), raw[0] - 40 * min(raw[0] // 40, 2)]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _text(tag: int, raw: bytes) -> str:
    if tag == 0x1E:  # BMPString
        return raw.decode("utf-16-be", "replace")
    if tag == 0x1C:  # UniversalString
        return raw.decode("utf-32-be", "replace")
    return raw.decode("utf-8" if tag == 0x0C else "latin-1", "replace")


def _escape(value: str) -> str:
    """RFC 4514 §2.4 escaping, as ``cryptography`` writes it."""
    out = "".join("\\" + c if c in ',+"\\<>;' else c for c in value)
    if out.startswith(("#", " ")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out.replace("\0", "\\00")


def _name(data: bytes, start: int, end: int) -> tuple[str, str | None]:
    """(RFC 4514 string, first CN) of a Name."""
    rdns: list[str] = []
    common_name: str | None = None
    for _, sstart, send in _children(data, start, end):  # SET OF AttributeTypeAndValue
        parts = []
        for _, astart, aend in _children(data, sstart, send):
            (_, ostart, oend), (vtag, vstart, vend) = _children(data, astart, aend)[:2]
            oid, value = _oid(data[ostart:oend]), _text(vtag, data[vstart:vend])
            if oid == _CN and common_name is None:
                common_name = value
            parts.append(f"{_SHORT.get(oid, oid)}={_escape(value)}")
        rdns.append("+".join(parts))
    return ",".join(reversed(rdns)), common_name


def _time(tag: int, raw: bytes) -> float:
    text = raw.decode("ascii", "replace").rstrip("Z")
    if tag == 0x17:  # UTCTime: two-digit year, 1950-2049
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    text = text.ljust(14, "0")[:14]
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()
    except ValueError as exc:
        raise DerError(f"bad time {raw!r}") from exc


def _dns_names(data: bytes, start: int, end: int) -> list[str]:
    """dNSName entries ([2] IA5String) of a subjectAltName extension's value."""
    tag, sstart, send = _tlv(data, start)
    if tag != 0x30:
        raise DerError("subjectAltName is not a sequence")
    return [_text(0x16, data[s:e]) for t, s, e in _children(data, sstart, send) if t == 0x82]


def read_certificate(der: bytes) -> dict[str, object]:
    """Serial (int), issuer and subject (RFC 4514), common_name, not_before and not_after
    (UNIX seconds) and dns_names (as written) of a certificate; raises :class:`DerError`."""
    tag, start, _ = _tlv(der, 0)
    if tag != 0x30:
        raise DerError("not a certificate (no outer sequence)")
    tag, tstart, tend = _tlv(der, start)  # tbsCertificate
    fields = _children(der, tstart, tend)
    if fields and fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    if len(fields) < 6:
        raise DerError("tbsCertificate has too few fields")
    serial_raw = der[fields[0][1] : fields[0][2]]
    issuer, _ = _name(der, fields[2][1], fields[2][2])
    times = _children(der, fields[3][1], fields[3][2])
    subject, common_name = _name(der, fields[4][1], fields[4][2])
    dns_names: list[str] = []
    for etag, estart, eend in fields[6:]:
        if etag != 0xA3:  # [3] extensions
            continue
        (_, sstart, send), *_ = _children(der, estart, eend)
        for _, xstart, xend in _children(der, sstart, send):
            parts = _children(der, xstart, xend)
            if _oid(der[parts[0][1] : parts[0][2]]) == _SAN:
                dns_names = _dns_names(der, parts[-1][1], parts[-1][2])
    return {
        "serial": int.from_bytes(serial_raw, "big", signed=True),
        "issuer": issuer,
        "subject": subject,
        "common_name": common_name,
        "not_before": _time(times[0][0], der[times[0][1] : times[0][2]]),
        "not_after": _time(times[1][0], der[times[1][1] : times[1][2]]),
        "dns_names": dns_names,
    }
