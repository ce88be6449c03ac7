"""``--web-config``: TLS and basic auth for the metrics endpoint (exporter-toolkit format).

Understood keys (others are an error, so a typo never silently disables protection)::

    tls_server_config:
      cert_file: server.crt          # relative paths are relative to this file
      key_file: server.key
      client_ca_file: ca.crt         # optional: with client_auth_type below
      client_auth_type: RequireAndVerifyClientCert   # or NoClientCert (default)
      min_version: TLS12             # or TLS13
    basic_auth_users:
      prometheus: $2y$10$...         # bcrypt hashes (htpasswd -nBC 10 "" | tr -d ':\\n')
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.exporter.auth import (
    AuthResult,
    DigestCache,
    FailureBudget,
    SharedChecks,
    credential_key,
)
from monitor.model import ConfigError

_TOP_KEYS = {"tls_server_config", "basic_auth_users"}
_TLS_KEYS = {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version"}
_AUTH_TYPES = {"NoClientCert", "RequireAndVerifyClientCert"}
_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
# A valid bcrypt hash to check against for unknown users, so timing does not tell names.
_DUMMY_HASH = b"$2b$10$" + b"N9qo8uLOickgx2ZMRZoMye" + b"IjZAgcfl7p92ldGxad68LJZdL17lhWy"
GOOD_CACHE_SIZE = 256  # credentials bcrypt accepted (only holders of a password add any)
BAD_CACHE_SIZE = 4096  # credentials bcrypt refused


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """Server certificate and key, optional client CA, minimum TLS version."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None
    require_client_cert: bool = False
    min_version: str = "TLS12"
    source: Path | None = None  # the web-config file, for error messages

    def context(self) -> ssl.SSLContext:
        """A server-side SSL context (ConfigError naming the file and key that do not load)."""
        where = f"{self.source}: " if self.source is not None else "web config: "
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = _VERSIONS[self.min_version]
        try:
            ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{where}tls_server_config.cert_file/key_file: cannot load TLS files "
                f"{self.cert_file} and {self.key_file}: {exc}"
            ) from exc
        try:
            if self.client_ca_file is not None:
                ctx.load_verify_locations(str(self.client_ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{where}tls_server_config.client_ca_file: cannot load TLS file "
                f"{self.client_ca_file}: {exc}"
            ) from exc
        if self.require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx


@dataclass(slots=True)
class WebConfig:
    """What the metrics endpoint enforces: TLS (optional) and basic-auth users (optional).

    ``source`` is the file it came from (read again on SIGHUP). The credential caches
    belong to this config, so a reload that changes or removes a password forgets them.
    """

    tls: TlsConfig | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    source: Path | None = None
    _good: DigestCache = field(default_factory=lambda: DigestCache(GOOD_CACHE_SIZE))
    _bad: DigestCache = field(default_factory=lambda: DigestCache(BAD_CACHE_SIZE))
    _checks: SharedChecks = field(default_factory=SharedChecks)

    @property
    def auth_required(self) -> bool:
        """True when requests must carry basic-auth credentials."""
        return bool(self.users)

    def check(self, user: str, password: str, client: str, budget: FailureBudget) -> AuthResult:
        """Whether ``user``/``password`` from ``client`` matches a configured bcrypt hash.

        bcrypt is slow on purpose (~75 ms at cost 10), so: credentials bcrypt accepted
        before pass at once; a client over its failure budget gets LIMITED without a
        bcrypt; a wrong password seen before is DENIED without one (and still charged).
        """
        key = credential_key(user, password)
        if key in self._good:
            return AuthResult.OK
        if not budget.allows(client):
            return AuthResult.LIMITED
        if key in self._bad:
            budget.charge(client)
            return AuthResult.DENIED
        if self._checks.run(key, lambda: self._verify(key, user, password)):
            return AuthResult.OK
        budget.charge(client)
        return AuthResult.DENIED

    def _verify(self, key: bytes, user: str, password: str) -> bool:
        """bcrypt, its verdict remembered before anyone waiting for it is told."""
        ok = _bcrypt_ok(self.users.get(user), password)
        (self._good if ok else self._bad).add(key)
        return ok


def _bcrypt_ok(stored: bytes | None, password: str) -> bool:
    """bcrypt against ``stored`` (a dummy hash for unknown users: timing does not tell names)."""
    import bcrypt  # only needed when basic auth is configured

    try:
        return bcrypt.checkpw(password.encode(), stored or _DUMMY_HASH) and stored is not None
    except ValueError:
        return False


def load_web_config(path: str | Path) -> WebConfig:
    """Parse a web-config file; ConfigError names the file and the key at fault."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read web config: {exc}") from exc
    doc = {} if doc is None else doc
    _mapping(doc, path, "top level")
    _known(doc, _TOP_KEYS, path, "")
    tls_doc = doc.get("tls_server_config")
    tls = _tls(tls_doc, path) if tls_doc is not None else None
    users_doc = doc.get("basic_auth_users") or {}
    _mapping(users_doc, path, "basic_auth_users")
    users: dict[str, bytes] = {}
    for user, hashed in users_doc.items():
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise ConfigError(f"{path}: basic_auth_users.{user}: not a bcrypt hash")
        users[str(user)] = hashed.encode()
    return WebConfig(tls=tls, users=users, source=path)


def _tls(doc: Any, path: Path) -> TlsConfig:
    _mapping(doc, path, "tls_server_config")
    _known(doc, _TLS_KEYS, path, "tls_server_config.")
    for key in ("cert_file", "key_file"):
        if not doc.get(key):
            raise ConfigError(f"{path}: tls_server_config.{key} is required")
    auth = doc.get("client_auth_type", "NoClientCert")
    if auth not in _AUTH_TYPES:
        raise ConfigError(f"{path}: tls_server_config.client_auth_type: one of {_AUTH_TYPES}")
    version = doc.get("min_version", "TLS12")
    if version not in _VERSIONS:
        raise ConfigError(f"{path}: tls_server_config.min_version: TLS12 or TLS13")
    ca = doc.get("client_ca_file")
    if auth == "RequireAndVerifyClientCert" and not ca:
        raise ConfigError(f"{path}: tls_server_config.client_ca_file is required for {auth}")
    base = path.parent
    return TlsConfig(
        cert_file=base / doc["cert_file"],
        key_file=base / doc["key_file"],
        client_ca_file=base / ca if ca else None,
        require_client_cert=auth == "RequireAndVerifyClientCert",
        min_version=version,
        source=path,
    )


def _mapping(doc: Any, path: Path, where: str) -> None:
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: {where} must be a mapping")


def _known(doc: dict[str, Any], known: set[str], path: Path, prefix: str) -> None:
    for key in doc:
        if key not in known:
            raise ConfigError(f"{path}: unknown key {prefix}{key} (known: {sorted(known)})")
