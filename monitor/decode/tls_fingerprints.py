"""JA3, JA3S and JA4 (the TLS client fingerprint; not the other JA4+ methods) of hellos.

- JA3 (Salesforce): ``version,ciphers,extensions,groups,point_formats`` of a ClientHello,
  decimal values joined by ``-``, GREASE dropped (RFC 8701), MD5 of that text; as
  Wireshark's ``tls.handshake.ja3`` (tests hold every real capture to tshark's).
- JA3S: ``version,cipher,extensions`` of a ServerHello, likewise.
- JA4 (FoxIO, BSD-3-Clause, technical_details/JA4.md): ``a_b_c`` with a = transport
  (``t`` TCP, ``q`` QUIC), version, ``d``/``i`` (SNI extension or not), cipher and extension
  counts, first and last character of the first ALPN value; b = SHA-256 (12 hex digits) of
  the sorted ciphers; c = SHA-256 of the sorted extensions without SNI and ALPN, ``_``,
  the signature algorithms in wire order. Written from the specification (the
  ``ja4plus`` package is the tests' reference); where the two differ (the first ALPN
  value with a non-alphanumeric end byte) the specification is followed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from monitor.decode.tls import EXT_ALPN, EXT_SERVER_NAME, EXT_SUPPORTED_VERSIONS, ClientHello

_VERSIONS = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}
_EMPTY = "000000000000"


@dataclass(frozen=True, slots=True)
class ServerHello:
    """What JA3S needs of a ServerHello, and the version the server chose."""

    legacy_version: int
    cipher: int
    extensions: tuple[int, ...]
    selected_version: int | None  # from its supported_versions extension (TLS 1.3)

    @property
    def version(self) -> int:
        """The negotiated version (0x0304 for TLS 1.3)."""
        return self.selected_version or self.legacy_version


def is_grease(value: int) -> bool:
    """Whether a 16-bit value is a GREASE value (0x0a0a, 0x1a1a, ... 0xfafa)."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


def _dashed(values: tuple[int, ...]) -> str:
    return "-".join(str(v) for v in values if not is_grease(v))


def ja3_string(hello: ClientHello) -> str:
    """The JA3 text of a ClientHello (before hashing)."""
    return ",".join(
        (
            str(hello.legacy_version),
            _dashed(hello.ciphers),
            _dashed(hello.extensions),
            _dashed(hello.groups),
            "-".join(str(v) for v in hello.point_formats),
        )
    )


def ja3(hello: ClientHello) -> str:
    """The JA3 hash (MD5, lower-case hex) of a ClientHello."""
    return hashlib.md5(ja3_string(hello).encode(), usedforsecurity=False).hexdigest()


def ja3s_string(hello: ServerHello) -> str:
    """The JA3S text of a ServerHello (before hashing)."""
    return f"{hello.legacy_version},{hello.cipher},{_dashed(hello.extensions)}"


def ja3s(hello: ServerHello) -> str:
    """The JA3S hash (MD5, lower-case hex) of a ServerHello."""
    return hashlib.md5(ja3s_string(hello).encode(), usedforsecurity=False).hexdigest()


def _alpn_chars(first: bytes) -> str:
    """First and last character of the first ALPN value; of its hex form when either end
    byte is not an ASCII letter or digit; ``00`` without one."""
    if not first:
        return "00"
    a, b = chr(first[0]), chr(first[-1])
    if a.isascii() and a.isalnum() and b.isascii() and b.isalnum():
        return a + b
    text = first.hex()
    return text[0] + text[-1]


def _hash12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ja4_parts(hello: ClientHello, transport: str = "t") -> tuple[str, str, str]:
    """JA4_r: section a, the sorted cipher list, the extension list (``_`` signature
    algorithms), as hex text before hashing."""
    ciphers = [c for c in hello.ciphers if not is_grease(c)]
    extensions = [e for e in hello.extensions if not is_grease(e)]
    versions = [v for v in hello.supported_versions if not is_grease(v)]
    has_versions = EXT_SUPPORTED_VERSIONS in hello.extensions and versions
    version = max(versions) if has_versions else hello.legacy_version
    sni = "d" if EXT_SERVER_NAME in extensions else "i"
    a = (
        f"{transport}{_VERSIONS.get(version, '00')}{sni}"
        f"{min(len(ciphers), 99):02d}{min(len(extensions), 99):02d}{_alpn_chars(hello.alpn_first)}"
    )
    b = ",".join(f"{c:04x}" for c in sorted(ciphers))
    kept = sorted(e for e in extensions if e not in (EXT_SERVER_NAME, EXT_ALPN))
    c = ",".join(f"{e:04x}" for e in kept)
    sigs = [s for s in hello.signature_algorithms if not is_grease(s)]
    if kept and sigs:
        c += "_" + ",".join(f"{s:04x}" for s in sigs)
    return a, b, c


def ja4(hello: ClientHello, transport: str = "t") -> str:
    """The JA4 of a ClientHello; ``transport`` is ``t`` (TLS over TCP) or ``q`` (QUIC)."""
    a, b, c = ja4_parts(hello, transport)
    return f"{a}_{_hash12(b) if b else _EMPTY}_{_hash12(c) if c else _EMPTY}"
