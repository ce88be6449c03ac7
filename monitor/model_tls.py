"""TLS value types of the report: a server's certificate, a client fingerprint a device used.

Kept apart from :mod:`monitor.model` (which re-exports them) so that module stays small.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TlsCertificate:
    """The leaf certificate a server sent in clear (TLS 1.2 and older).

    ``subject`` and ``issuer`` are RFC 4514 strings; ``common_name`` is the subject CN;
    ``dns_names`` the subjectAltName DNS names (at most 32); ``not_before``/``not_after``
    UNIX seconds; ``sha256`` the lower-case hex SHA-256 of the DER bytes (the usual
    certificate fingerprint); ``serial`` the serial number in lower-case hex.
    """

    subject: str
    common_name: str | None
    dns_names: tuple[str, ...]
    issuer: str
    serial: str
    not_before: float
    not_after: float
    sha256: str

    def names(self) -> tuple[str, ...]:
        """The host names it vouches for: the CN (when it looks like one), then the SANs."""
        out = [self.common_name] if self.common_name and "." in self.common_name else []
        out += [n for n in self.dns_names if n not in out]
        return tuple(out)

    def to_json(self) -> dict[str, object]:
        """The report's JSON object for this certificate."""
        return {
            "subject": self.subject,
            "common_name": self.common_name,
            "dns_names": list(self.dns_names),
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "sha256": self.sha256,
        }


@dataclass(slots=True)
class TlsClientPrint:
    """One TLS client fingerprint a device sent (``devices[].tls_fingerprints``): its JA4
    and JA3, in how many flows (one ClientHello each), first and last seen."""

    ja4: str
    ja3: str
    flows: int
    first_ts: float
    last_ts: float

    def to_json(self) -> dict[str, object]:
        """The report's JSON object for this fingerprint."""
        return {
            "ja4": self.ja4,
            "ja3": self.ja3,
            "flows": self.flows,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
        }
