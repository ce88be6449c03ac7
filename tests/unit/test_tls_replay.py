"""TLS through the whole replay: a server certificate names a flow no SNI or DNS named,
fingerprints reach findings, flow records and devices, and a device whose client
fingerprint changes gets a fact conflict."""

from __future__ import annotations

import hashlib
import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from monitor.classify.catalog import load_catalog
from monitor.cli import main
from monitor.config import default_policy
from monitor.model import FactConflict
from monitor.pipeline import Pipeline, PipelineSettings
from monitor.report._common import conflict_text
from monitor.report.flows_table import read_flows
from pcaps.wire import Capture, Host, TcpSession, outside, write_pcap
from tests.framebuild import batch_of
from tests.unit.tls_builders import (
    SERVER_HELLO_DONE,
    alpn_ext,
    certificate_message,
    client_hello,
    ext,
    list_ext,
    make_certificate,
    records,
    server_hello,
    sni_ext,
)

CAM = Host("10.20.1.11", "44:19:b6:3c:5e:11")
CAM2 = Host("10.20.1.12", "44:19:b6:3c:5e:12")
CLOUD = outside("203.0.113.7")
HIK_LEAF = make_certificate(
    "*.hik-connect.com", ["*.hik-connect.com"], organization="Hikvision", extra=3000
)  # big enough that its last bytes come after the flow's first 12 packets
STACK_A = client_hello((0xC02F, 0xC030, 0x009E), list_ext(10, (0x17,)) + ext(11, b"\x01\x00"))
STACK_B = client_hello((0x1301, 0x1302, 0xC02B), list_ext(13, (0x0403,)) + alpn_ext(b"h2"))


def tls_flow(
    cap: Capture,
    t: float,
    cli: Host,
    srv: Host,
    hello: bytes,
    leaf: bytes | None = None,
    segment: int = 300,
) -> TcpSession:
    """A TLS 1.2 connection: handshake, ClientHello, the server's flight in small
    segments (when a ``leaf`` is given), a little application data, close."""
    s = TcpSession(cap, cli, srv, 443, t).handshake()
    s.send(True, records(hello))
    if leaf is not None:
        flight = server_hello(0xC02F, ext(0xFF01, b"\x00"))
        flight += certificate_message([leaf]) + SERVER_HELLO_DONE
        stream = records(flight)
        s.send(False, stream, chunks=[segment] * (len(stream) // segment + 1))
        s.send(True, records(b"\x10" + bytes(70)) + records(b"\x01", content=20))
        s.send(False, records(b"\x01", content=20) + records(bytes(40), content=23))
    return s.close()


def replay(tmp_path: Path, cap: Capture, *extra: str) -> dict[str, Any]:
    path = tmp_path / "tls.pcap"
    write_pcap(path, cap.ordered())
    out = io.StringIO()
    with redirect_stdout(out):
        main(["replay", str(path), "--json", "--no-progress", *extra])
    report: dict[str, Any] = json.loads(out.getvalue())
    return report


def only(findings: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    hits = [f for f in findings if f["kind"] == kind]
    assert len(hits) == 1, findings
    return hits[0]


def test_a_certificate_names_a_flow_without_sni_or_dns(tmp_path: Path) -> None:
    cap = Capture("cert-naming")
    tls_flow(cap, 1.0, CAM, CLOUD, STACK_A, HIK_LEAF)
    flows = tmp_path / "flows.csv"
    report = replay(tmp_path, cap, "--flows", str(flows))
    found = only(report["findings"], "vendor_cloud")
    assert found["endpoint"] == "hik-connect" and found["vendor"] == "hikvision"
    assert found["peer_name"] == "*.hik-connect.com"
    assert (
        "named by server certificate: *.hik-connect.com belongs to hik-connect"
        in (found["evidence"])
    )
    cert = found["tls_certificate"]
    assert cert["common_name"] == "*.hik-connect.com" and cert["subject"].startswith("O=Hikvision")
    assert cert["sha256"] == hashlib.sha256(HIK_LEAF).hexdigest()
    assert len(found["ja3"]) == 32 and len(found["ja3s"]) == 32
    assert found["ja4"].startswith("t12i0302")  # TLS 1.2, no SNI, 3 ciphers, 2 extensions
    row = read_flows(flows).set_index("resp_addr").loc[CLOUD.ip]
    assert (row["ja3"], row["ja3s"], row["ja4"]) == (found["ja3"], found["ja3s"], found["ja4"])
    assert row["cert_names"] == "*.hik-connect.com" and row["cert_sha256"] == cert["sha256"]
    assert row["cert_not_after"] == cert["not_after"] and row["verdict"] == "vendor_cloud"
    (camera,) = [d for d in report["devices"] if d["ip"] == CAM.ip]
    assert camera["tls_fingerprints"] == [
        {"ja4": found["ja4"], "ja3": found["ja3"], "flows": 1,
         "first_ts": camera["tls_fingerprints"][0]["first_ts"],
         "last_ts": camera["tls_fingerprints"][0]["last_ts"]}
    ]  # fmt: skip


def test_an_uncatalogued_certificate_name_is_the_peer_name_of_egress(tmp_path: Path) -> None:
    cap = Capture("cert-egress")
    leaf = make_certificate("api.example.net", ["api.example.net"])
    tls_flow(cap, 1.0, CAM, CLOUD, STACK_A, leaf)
    found = only(replay(tmp_path, cap)["findings"], "egress")
    assert found["peer_name"] == "api.example.net"
    assert "named by server certificate: api.example.net" in found["evidence"]
    assert "peer name" not in found["evidence"]  # said once


def test_sni_names_first_the_certificate_still_attributes(tmp_path: Path) -> None:
    cap = Capture("cert-and-sni")
    hello = client_hello((0xC02F,), sni_ext(b"relay.example.org"))
    tls_flow(cap, 1.0, CAM, CLOUD, hello, HIK_LEAF)
    found = only(replay(tmp_path, cap)["findings"], "vendor_cloud")
    assert found["peer_name"] == "relay.example.org" and found["endpoint"] == "hik-connect"


def test_a_devices_own_certificate_names_no_peer(tmp_path: Path) -> None:
    cap = Capture("cert-inbound")
    tls_flow(cap, 1.0, outside("198.51.100.9"), CAM, STACK_A, HIK_LEAF)
    report = replay(tmp_path, cap)
    found = only(report["findings"], "inbound")
    assert found["peer_name"] is None and "certificate" not in found["evidence"]
    assert found["tls_certificate"]["common_name"] == "*.hik-connect.com"  # still shown
    assert not [f for f in report["findings"] if f["kind"] == "vendor_cloud"]


def test_a_changed_client_fingerprint_is_a_conflict(tmp_path: Path) -> None:
    cap = Capture("fingerprint-change")
    for n in range(4):  # camera 1: stack A for ten minutes, then stack B
        tls_flow(cap, 10.0 + 200 * n, CAM, CLOUD, STACK_A)
    tls_flow(cap, 900.0, CAM, CLOUD, STACK_B)
    for n in range(6):  # camera 2: both stacks from the start
        tls_flow(cap, 11.0 + 200 * n, CAM2, CLOUD, STACK_A if n % 2 else STACK_B)
    devices = {d["ip"]: d for d in replay(tmp_path, cap)["devices"]}
    first, second = devices[CAM.ip], devices[CAM2.ip]
    a, b = (p["ja4"] for p in first["tls_fingerprints"])  # most used first
    assert [p["flows"] for p in first["tls_fingerprints"]] == [4, 1]
    (conflict,) = first["conflicts"]
    assert conflict["fact"] == "tls_client_fingerprint"
    assert (conflict["inventory"], conflict["observed"]) == (a, b)
    assert (
        "after 4 ClientHellos" in conflict["source"] and "not used after it" in conflict["source"]
    )
    assert {p["ja4"] for p in second["tls_fingerprints"]} == {a, b}
    assert second["conflicts"] == []  # two stacks from the start: no change


def test_conflict_text_of_a_fingerprint_change() -> None:
    c = FactConflict("tls_client_fingerprint", "t12i030200_a_b", "t13i030100_c_d", "seen", "medium")
    assert conflict_text(c) == (
        "tls_client_fingerprint: earlier t12i030200_a_b, then t13i030100_c_d (seen, medium)"
    )


@pytest.mark.parametrize("light", [False, True], ids=["flowstate", "light"])
def test_one_packet_per_batch_light_or_not_waits_for_the_certificate(light: bool) -> None:
    """The handshake's first packets (no payload) may make a light flow; the hello
    promotes it, and the certificate, many batches later, still names it."""
    cap = Capture("cert-batches")
    tls_flow(cap, 1.0, CAM, CLOUD, STACK_A, HIK_LEAF)
    pipe = Pipeline(default_policy(), load_catalog(), PipelineSettings(light_flows=light))
    for frame in cap.ordered():
        pipe.process(batch_of([frame.data], [frame.ts_us / 1e6]))
    pipe.finish()
    (found,) = pipe.findings.findings()
    assert (found.kind, found.endpoint, found.peer_name) == (
        "vendor_cloud",
        "hik-connect",
        "*.hik-connect.com",
    )
    assert found.tls_certificate is not None and found.ja4 is not None
