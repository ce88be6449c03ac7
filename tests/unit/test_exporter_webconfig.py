"""--web-config parsing; the metrics endpoint served with TLS and bcrypt basic auth on loopback."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from monitor.counters import Counters, Snapshot
from monitor.exporter.collector import SensorInfo, build_registry
from monitor.exporter.server import Landing, MetricsServer, parse_listen, serve_metrics
from monitor.exporter.webconfig import load_web_config
from monitor.model import ConfigError

PASSWORD = "s3cret-scrape"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (and its key), written to ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cctv-monitor test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def write_config(directory: Path, users: dict[str, str]) -> Path:
    self_signed(directory)
    lines = ["tls_server_config:", "  cert_file: server.crt", "  key_file: server.key"]
    lines += ["basic_auth_users:", *(f"  {u}: '{h}'" for u, h in users.items())]
    path = directory / "web.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[MetricsServer, ssl.SSLContext]]:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    web = load_web_config(write_config(tmp_path, {"prometheus": hashed.replace("$2b$", "$2y$")}))
    counters = Counters()
    counters.capture_packets["eth1"] = 5
    snap = Snapshot("s", 1.0, counters)
    info = SensorInfo("site-<a>", "1.2.3", True, None)
    registry = build_registry(lambda: snap, lambda: info, process_metrics=False)
    running = serve_metrics(
        "127.0.0.1:0", registry, lambda: Landing("cctv-monitor", "1.2.3", "site-<a>"), web
    )
    client = ssl.create_default_context(cafile=str(tmp_path / "server.crt"))
    try:
        yield running, client
    finally:
        running.shutdown()


def fetch(url: str, ctx: ssl.SSLContext, user: str | None = None, pw: str = "") -> tuple[int, str]:
    req = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{pw}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_tls_and_basic_auth(server: tuple[MetricsServer, ssl.SSLContext]) -> None:
    running, ctx = server
    host, port = running.address
    base = f"https://{host}:{port}"
    assert fetch(base + "/metrics", ctx)[0] == 401
    assert fetch(base + "/metrics", ctx, "prometheus", "wrong")[0] == 401
    assert fetch(base + "/metrics", ctx, "nobody", PASSWORD)[0] == 401
    status, body = fetch(base + "/metrics", ctx, "prometheus", PASSWORD)
    assert status == 200
    assert 'cctv_capture_packets_total{interface="eth1",site="site-<a>"} 5.0' in body
    status, page = fetch(base + "/", ctx, "prometheus", PASSWORD)
    assert status == 200 and 'href="/metrics"' in page and "site-&lt;a&gt;" in page
    assert "1.2.3" in page
    assert fetch(base + "/nope", ctx, "prometheus", PASSWORD)[0] == 404
    with pytest.raises(OSError):  # plain HTTP is not served (reset or refused)
        urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5)


def test_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    for text, needle in (
        ("tls_server_config:\n  cert_file: a\n", "key_file"),
        ("tls_server_config:\n  cert_file: a\n  key_file: b\n  ciphers: x\n", "ciphers"),
        ("basic_auth_users:\n  alice: plaintext\n", "bcrypt"),
        ("basic_auth: {}\n", "basic_auth"),
        ("- a list\n", "mapping"),
    ):
        bad.write_text(text)
        with pytest.raises(ConfigError, match=needle):
            load_web_config(bad)
    empty = tmp_path / "empty.yml"
    empty.write_text("")
    assert load_web_config(empty).tls is None
    missing = tmp_path / "web.yml"
    missing.write_text("tls_server_config:\n  cert_file: no.crt\n  key_file: no.key\n")
    config = load_web_config(missing)
    assert config.tls is not None and config.tls.cert_file == tmp_path / "no.crt"
    with pytest.raises(ConfigError, match="cannot load TLS"):
        config.tls.context()


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:9108") == ("127.0.0.1", 9108)
    assert parse_listen("[::1]:9108") == ("::1", 9108)
    assert parse_listen(":9108") == ("0.0.0.0", 9108)
    for bad in ("localhost:9108", "127.0.0.1", "127.0.0.1:x", "[::1]:70000"):
        with pytest.raises(ConfigError):
            parse_listen(bad)
