"""The metrics endpoint: HTTP(S) for ``/metrics`` and a landing page.

Binds to loopback unless told otherwise (``--listen``); optional TLS and bcrypt basic
auth come from ``--web-config`` (:mod:`monitor.exporter.webconfig`) and can be swapped
while running (:meth:`MetricsServer.reload`). Sockets are driven by
:mod:`monitor.exporter.reactor` within :class:`~monitor.exporter.limits.Limits`; this
module answers complete requests. This listener is the only socket the sensor opens.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import html
import io
import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import prometheus_client
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from monitor.exporter.auth import AuthResult, FailureBudget, client_key
from monitor.exporter.limits import Limits, Tally
from monitor.exporter.reactor import Reactor
from monitor.exporter.render import SharedRender
from monitor.exporter.webconfig import WebConfig
from monitor.model import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Landing:
    """What the landing page at ``/`` shows."""

    name: str
    version: str
    site: str
    status: str = ""  # how far the sensor is ("capturing on eth1 (2 workers)"), when known


def parse_listen(value: str) -> tuple[str, int]:
    """``ADDR:PORT``, ``[V6ADDR]:PORT`` or ``:PORT`` (all addresses) as (host, port).

    Only IP literals: the sensor never resolves names.
    """
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"--listen {value!r}: expected ADDR:PORT, [ADDR]:PORT or :PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "":
        host = "0.0.0.0"
    try:
        ipaddress.ip_address(host)
    except ValueError as exc:
        raise ConfigError(f"--listen {value!r}: {host!r} is not an IP address") from exc
    return host, int(port_text)


class _Site:
    """What every request needs: the registry, the web config in force, the auth budget."""

    def __init__(
        self,
        registry: CollectorRegistry,
        landing: Callable[[], Landing],
        web: WebConfig | None,
        limits: Limits,
        version: Callable[[], Hashable] = tuple,
    ) -> None:
        self.registry = registry
        self.version = version  # the state /metrics shows: renderings are shared within one
        self.landing = landing
        self.web = web  # replaced whole on reload, never mutated
        self.budget = FailureBudget()
        self.render = SharedRender(limits.reuse_within)
        self.tally: Tally | None = None

    def answer(self, request: bytes, peer: Any) -> tuple[bytes, bool]:
        """The response to one complete request, and whether to keep the connection."""
        # The request is bytes and the "server" this site: _Handler.setup() expects both.
        handler = _Handler(request, peer, self)  # type: ignore[arg-type]
        return handler.out.getvalue(), not handler.close_connection


class _Handler(BaseHTTPRequestHandler):
    """One request, read from bytes the reactor collected, answered into bytes."""

    server: _Site  # type: ignore[assignment]
    request: bytes
    protocol_version = "HTTP/1.1"  # keep-alive: every response has a Content-Length
    server_version = "cctv-monitor"
    sys_version = ""

    def setup(self) -> None:
        self.out = io.BytesIO()
        self.rfile, self.wfile = io.BytesIO(self.request), self.out

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()

    def finish(self) -> None:
        """Nothing to flush or close: the reactor owns the socket."""

    def do_GET(self) -> None:
        verdict = self._authorised()
        if verdict is AuthResult.LIMITED:
            site = self.server
            if site.tally is not None:
                site.tally.add("auth_limited")
            wait = site.budget.retry_after(self._client())
            self._send(429, b"Too Many Requests\n", "text/plain", {"Retry-After": str(wait)})
            return
        if verdict is AuthResult.DENIED:
            challenge = {"WWW-Authenticate": 'Basic realm="cctv-monitor"'}
            self._send(401, b"Unauthorized\n", "text/plain", challenge)
            return
        path = urlsplit(self.path).path
        if path == "/metrics":
            self._metrics()
        elif path == "/":
            self._send(200, _landing_html(self.server.landing()), "text/html; charset=utf-8", {})
        else:
            self._send(404, b"Not Found\n", "text/plain", {})

    def _metrics(self) -> None:
        encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
        gzipped = "gzip" in self.headers.get("Accept-Encoding", "")
        registry = self.server.registry

        def render() -> bytes:
            body = encoder(registry)
            return gzip.compress(body, compresslevel=5) if gzipped else body

        body = self.server.render.get((content_type, gzipped), render, self.server.version)
        headers = {"Content-Encoding": "gzip"} if gzipped else {}
        self._send(200, body, content_type, headers)

    def _client(self) -> str:
        return client_key(str(self.client_address[0]))

    def _authorised(self) -> AuthResult:
        web = self.server.web
        if web is None or not web.auth_required:
            return AuthResult.OK
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return AuthResult.DENIED
        try:
            user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return AuthResult.DENIED
        return web.check(user, password, self._client(), self.server.budget)

    def _send(self, code: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s: " + format, self.address_string(), *args)


def _landing_html(info: Landing) -> bytes:
    name, version, site = (html.escape(v) for v in (info.name, info.version, info.site))
    status = f"<p>{html.escape(info.status)}</p>\n" if info.status else ""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{name}</title></head>\n<body><h1>{name}</h1>\n"
        f"<p>version {version} &middot; site <b>{site}</b></p>\n{status}"
        '<p><a href="/metrics">Metrics</a></p>\n</body></html>\n'
    ).encode()


class MetricsServer:
    """A running endpoint; :meth:`reload` swaps its web config, :meth:`shutdown` stops it."""

    def __init__(self, reactor: Reactor, site: _Site, tls: ssl.SSLContext | None) -> None:
        self._reactor = reactor
        self._site = site
        self._tls = tls

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): the real port when ``:0`` was asked for."""
        host, port = self._reactor.listener.getsockname()[:2]
        return str(host), int(port)

    @property
    def limits(self) -> Limits:
        """The bounds it enforces."""
        return self._reactor.limits

    @property
    def connections(self) -> int:
        """Client connections open now."""
        return self._reactor.connections

    @property
    def web(self) -> WebConfig | None:
        """The web config in force."""
        return self._site.web

    @property
    def tally(self) -> Tally:
        """Clients turned away so far, by reason."""
        return self._reactor.tally

    @property
    def renderings(self) -> int:
        """How many times ``/metrics`` was actually rendered (scrapes share renderings)."""
        return self._site.render.renderings

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context new connections get (None: plain HTTP)."""
        return self._tls

    def reload(self, web: WebConfig | None) -> None:
        """Use ``web`` from now on: its certificate for new connections, its users for
        every request. ConfigError (and the old config stays) when its TLS files do not load.
        """
        tls = web.tls.context() if web is not None and web.tls is not None else None
        self._site.web, self._tls = web, tls
        _warn_plain_auth(web)

    def shutdown(self) -> None:
        """Stop serving, close every connection and the listening socket."""
        self._reactor.stop()


def _warn_plain_auth(web: WebConfig | None) -> None:
    if web is not None and web.auth_required and web.tls is None:
        log.warning(
            "%s: basic_auth_users without tls_server_config: passwords cross the network "
            "in clear text; add a certificate",
            web.source or "web config",
        )


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def serve_metrics(
    listen: str,
    registry: CollectorRegistry,
    landing: Callable[[], Landing],
    web: WebConfig | None = None,
    limits: Limits | None = None,
    version: Callable[[], Hashable] = tuple,
) -> MetricsServer:
    """Start serving ``registry`` on ``listen`` in a daemon thread (OSError: cannot bind).
    ``version()`` names the state the registry shows now (scrapes share a rendering of
    ``/metrics`` only within one)."""
    prometheus_client.disable_created_metrics()
    limits = limits or Limits()
    host, port = parse_listen(listen)
    tls = web.tls.context() if web is not None and web.tls is not None else None
    site = _Site(registry, landing, web, limits, version)
    listener = _listen(host, port, limits.backlog)
    server: MetricsServer
    reactor = Reactor(listener, site.answer, lambda: server.tls_context(), limits)
    site.tally = reactor.tally
    server = MetricsServer(reactor, site, tls)
    reactor.start()
    scheme = "https" if tls is not None else "http"
    log.info("metrics on %s://%s/metrics", scheme, listen)
    _warn_plain_auth(web)
    return server
