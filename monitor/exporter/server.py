"""The metrics endpoint: a small threaded HTTP(S) server for ``/metrics`` and a landing page.

Binds to loopback unless told otherwise (``--listen``); optional TLS and bcrypt basic
auth come from ``--web-config`` (:mod:`monitor.exporter.webconfig`). This listener is the
only socket the sensor opens.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import html
import ipaddress
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import prometheus_client
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from monitor.exporter.webconfig import WebConfig
from monitor.model import ConfigError

log = logging.getLogger(__name__)
REQUEST_TIMEOUT = 10.0
SHUTDOWN_POLL_SECONDS = 0.1  # how soon shutdown() is noticed (a stop waits for it)


@dataclass(frozen=True, slots=True)
class Landing:
    """What the landing page at ``/`` shows."""

    name: str
    version: str
    site: str


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    registry: CollectorRegistry
    web: WebConfig | None
    landing: Callable[[], Landing]
    tls_context: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        """TLS handshake in the request's own thread, so a slow client blocks nobody."""
        request.settimeout(REQUEST_TIMEOUT)
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        try:
            tls = self.tls_context.wrap_socket(request, server_side=True)
        except (OSError, ValueError) as exc:
            log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()


class _V6Server(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "cctv-monitor"
    sys_version = ""

    def do_GET(self) -> None:
        if not self._authorised():
            challenge = {"WWW-Authenticate": 'Basic realm="cctv-monitor"'}
            self._send(401, b"Unauthorized\n", "text/plain", challenge)
            return
        path = urlsplit(self.path).path
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(200, encoder(self.server.registry), content_type, {}, compress=True)
        elif path == "/":
            self._send(200, _landing_html(self.server.landing()), "text/html; charset=utf-8", {})
        else:
            self._send(404, b"Not Found\n", "text/plain", {})

    def _authorised(self) -> bool:
        web = self.server.web
        if web is None or not web.auth_required:
            return True
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return web.check(user, password)

    def _send(
        self, code: int, body: bytes, ctype: str, headers: dict[str, str], compress: bool = False
    ) -> None:
        if compress and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, compresslevel=5)
            headers = {**headers, "Content-Encoding": "gzip"}
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
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{name}</title></head>\n<body><h1>{name}</h1>\n"
        f"<p>version {version} &middot; site <b>{site}</b></p>\n"
        '<p><a href="/metrics">Metrics</a></p>\n</body></html>\n'
    ).encode()


class MetricsServer:
    """A running endpoint; :meth:`shutdown` stops it."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): the real port when ``:0`` was asked for."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def shutdown(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(
    listen: str,
    registry: CollectorRegistry,
    landing: Callable[[], Landing],
    web: WebConfig | None = None,
) -> MetricsServer:
    """Start serving ``registry`` on ``listen`` in a daemon thread (OSError: cannot bind)."""
    prometheus_client.disable_created_metrics()
    host, port = parse_listen(listen)
    cls = _V6Server if ipaddress.ip_address(host).version == 6 else _Server
    tls_context = web.tls.context() if web is not None and web.tls is not None else None
    server = cls((host, port), _Handler)
    server.registry, server.web, server.landing = registry, web, landing
    server.tls_context = tls_context
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
        name="metrics-http",
        daemon=True,
    )
    thread.start()
    scheme = "https" if tls_context is not None else "http"
    log.info("metrics on %s://%s/metrics", scheme, listen)
    return MetricsServer(server, thread)
