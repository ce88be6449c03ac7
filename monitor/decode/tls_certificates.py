"""A server's leaf certificate (DER) as the report shows it, read with ``cryptography``.

Only the names, issuer, validity, serial and SHA-256 are taken; nothing is verified (a
passive monitor has no trust store, and a self-signed vendor certificate names its
vendor all the same). A certificate ``cryptography`` refuses for a flaw in its DER (old
firmware's certificates have them) is read by :mod:`monitor.decode.der_certificate`.
``cryptography`` is imported on first use: most captures hold no TLS 1.2 certificate and
its import costs start-up time.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from monitor.decode.der_certificate import DerError, read_certificate
from monitor.decode.dns import normalize_name
from monitor.model import TlsCertificate

MAX_DNS_NAMES = 32


class CertificateError(ValueError):
    """DER bytes that are not a certificate ``cryptography`` can read."""


def parse_certificate(der: bytes) -> TlsCertificate:
    """The report's view of a DER certificate; raises :class:`CertificateError`."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_der_x509_certificate(der)
        subject, issuer = cert.subject, cert.issuer
        cns = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = _text(cns[0].value) if cns else None
        return TlsCertificate(
            subject=subject.rfc4514_string(),
            common_name=common_name,
            dns_names=_dns_names(cert),
            issuer=issuer.rfc4514_string(),
            serial=format(abs(cert.serial_number), "x"),
            not_before=_utc(cert, "not_valid_before"),
            not_after=_utc(cert, "not_valid_after"),
            sha256=hashlib.sha256(der).hexdigest(),
        )
    except (ValueError, TypeError) as exc:  # cryptography reports bad DER as ValueError
        return _leniently(der, exc)


def _leniently(der: bytes, refused: Exception) -> TlsCertificate:
    """The fields of a certificate ``cryptography`` refused, read by the lenient reader."""
    try:
        got = read_certificate(der)
    except (DerError, IndexError, ValueError) as exc:
        raise CertificateError(f"certificate ({len(der)} bytes) unreadable: {refused}") from exc
    names = [normalize_name(str(n)) for n in got["dns_names"]]  # type: ignore[attr-defined]
    return TlsCertificate(
        subject=str(got["subject"]),
        common_name=None if got["common_name"] is None else str(got["common_name"]),
        dns_names=tuple(dict.fromkeys(n for n in names if n))[:MAX_DNS_NAMES],
        issuer=str(got["issuer"]),
        serial=format(abs(int(got["serial"])), "x"),  # type: ignore[call-overload]
        not_before=float(got["not_before"]),  # type: ignore[arg-type]
        not_after=float(got["not_after"]),  # type: ignore[arg-type]
        sha256=hashlib.sha256(der).hexdigest(),
    )


def _text(value: object) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _dns_names(cert: object) -> tuple[str, ...]:
    """The subjectAltName DNS names, normalised (lower case, no final dot), at most 32."""
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)  # type: ignore[attr-defined]
    except x509.ExtensionNotFound:
        return ()
    names = [normalize_name(n) for n in san.value.get_values_for_type(x509.DNSName)]
    return tuple(dict.fromkeys(n for n in names if n))[:MAX_DNS_NAMES]


def _utc(cert: object, name: str) -> float:
    """A validity bound as UNIX seconds (``cryptography`` >= 42 has the ``_utc`` form)."""
    value = getattr(cert, f"{name}_utc", None)
    if value is None:
        value = getattr(cert, name).replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    return value.timestamp()


def certificate_name_matches(name: str) -> str:
    """The domain a certificate name stands for when matched against the catalog: a
    wildcard ``*.auto.example.com`` covers names under ``auto.example.com``."""
    return name[2:] if name.startswith("*.") else name
