"""SIGHUP reloads the endpoint's web config (certificate, key, users); a broken file keeps
the old one; basic auth without TLS is warned about at start."""

from __future__ import annotations

import base64
import http.client
import logging
import os
import shutil
import signal
import ssl
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import bcrypt
import pytest

from monitor.capture.live import CaptureOptions
from monitor.classify.catalog import load_catalog
from monitor.config import default_policy
from monitor.counters import Counters, Snapshot
from monitor.exporter.collector import SensorInfo, build_registry
from monitor.exporter.server import Landing, MetricsServer, serve_metrics
from monitor.exporter.webconfig import WebConfig, load_web_config
from monitor.live.reload import ReloadState, reload_web_config
from monitor.live.runtime import LiveConfig
from monitor.live.sensor import SingleSensor
from tests.unit.test_exporter_webconfig import self_signed
from tests.waiting import scaled


def write(directory: Path, user: str, password: str) -> Path:
    """A web config with a fresh certificate and ``user``/``password``."""
    self_signed(directory)
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    path = directory / "web.yml"
    path.write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        f"basic_auth_users:\n  {user}: '{hashed}'\n"
    )
    return path


def trust(directory: Path, name: str) -> ssl.SSLContext:
    """A client context trusting the certificate in ``directory`` now (kept as ``name``)."""
    kept = directory / name
    shutil.copy(directory / "server.crt", kept)
    return ssl.create_default_context(cafile=str(kept))


def status(server: MetricsServer, ctx: ssl.SSLContext, user: str, password: str) -> int:
    conn = http.client.HTTPSConnection(*server.address, context=ctx, timeout=scaled(10))
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    try:
        conn.request("GET", "/metrics", headers={"Authorization": f"Basic {token}"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def start(web: WebConfig | None) -> MetricsServer:
    registry = build_registry(
        lambda: Snapshot("s", 1.0, Counters()),
        lambda: SensorInfo("lab", "1.0", True, None),
        process_metrics=False,
    )
    return serve_metrics("127.0.0.1:0", registry, lambda: Landing("m", "1", "lab"), web)


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[MetricsServer, Path]]:
    path = write(tmp_path, "prometheus", "old-pw")
    server = start(load_web_config(path))
    try:
        yield server, path
    finally:
        server.shutdown()


def test_reload_swaps_certificate_key_and_users(
    served: tuple[MetricsServer, Path], caplog: pytest.LogCaptureFixture
) -> None:
    server, path = served
    old_cert = trust(path.parent, "old.crt")
    assert status(server, old_cert, "prometheus", "old-pw") == 200

    write(path.parent, "scraper", "new-pw")  # new certificate, key and user, same file
    new_cert = trust(path.parent, "new.crt")
    state = ReloadState()
    reload_web_config(server, state)
    assert state.ok
    assert status(server, new_cert, "scraper", "new-pw") == 200
    assert status(server, new_cert, "prometheus", "old-pw") == 401  # the old user is gone
    with pytest.raises(ssl.SSLCertVerificationError):  # the old certificate is not served
        status(server, old_cert, "scraper", "new-pw")

    # A broken file: the error names file and key, the config in force stays.
    good_text = path.read_text()
    for broken, key in (
        (good_text + "  bob: plaintext\n", "basic_auth_users.bob"),
        (good_text.replace("server.key", "missing.key"), "tls_server_config.cert_file/key_file"),
        (good_text.replace("tls_server_config:", "tls_server_confg:"), "tls_server_confg"),
    ):
        path.write_text(broken)
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            reload_web_config(server, state)
        assert not state.ok
        message = caplog.text
        assert "web config reload failed" in message and str(path) in message and key in message
        assert status(server, new_cert, "scraper", "new-pw") == 200


def test_sighup_reloads_the_web_config_of_a_running_sensor(
    served: tuple[MetricsServer, Path],
) -> None:
    server, path = served
    sensor = SingleSensor(
        LiveConfig(capture=CaptureOptions("lo")), default_policy(), load_catalog()
    )
    sensor.server = server
    loop = SimpleNamespace(pipeline=sensor.pipeline, stop=lambda: None)
    write(path.parent, "prometheus", "rotated")
    ctx = trust(path.parent, "rotated.crt")
    sensor.signals.install()
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        sensor.poll(loop)  # type: ignore[arg-type]  # what the capture loop calls
    finally:
        sensor.signals.restore()
        sensor.alerts.close()
    assert sensor.state.reload.ok
    assert status(server, ctx, "prometheus", "rotated") == 200
    assert status(server, ctx, "prometheus", "old-pw") == 401


def test_basic_auth_without_tls_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = tmp_path / "plain.yml"
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    plain.write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    with caplog.at_level(logging.WARNING):
        start(load_web_config(plain)).shutdown()
    warned = [r for r in caplog.records if "clear text" in r.getMessage()]
    assert len(warned) == 1 and str(plain) in warned[0].getMessage()

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        start(load_web_config(write(tmp_path, "prometheus", "pw"))).shutdown()
        start(None).shutdown()
    assert not [r for r in caplog.records if "clear text" in r.getMessage()]
