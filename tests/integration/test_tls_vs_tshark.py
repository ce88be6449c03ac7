"""TLS fingerprints and certificates of every real capture against independent readers:
JA3 and JA3S against Wireshark's ``tls.handshake.ja3``/``ja3s``, the server's leaf
certificate against the bytes Wireshark shows, JA4 against the ``ja4plus`` package.

A flow is matched by its 5-tuple (the innermost addresses of a tunnelled frame). Every
hello Wireshark fingerprints must have our value on that flow, and every value we give
must be one Wireshark gave. Left out, each for its reason: hellos Wireshark itself marks
malformed (its JA3 is then cut where its dissector stopped; we give none), and TLS
carried in protocols we do not open (OpenVPN, DTLS, RDP over UDP, GTP, CAPWAP), and the
ServerHello of Google's QUIC T050/T051 (gQUIC frames, not IETF QUIC frames).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import pytest
from scapy.layers.inet import UDP
from scapy.utils import rdpcap, wrpcap

from monitor.classify.catalog import load_catalog
from monitor.config import default_policy
from monitor.model import FlowRecord
from monitor.replay import run_replay
from tests.requirements import REPO, require_shared, require_tool, shared_names

pytestmark = [pytest.mark.realpcaps, pytest.mark.tools]

REAL = shared_names("pcaps-real", "*.pcap*")
SAMPLES = sorted(p.name for p in (REPO / "pcaps").glob("*.pcap*"))
NOT_OPENED = {"openvpn", "dtls", "rdpudp", "gtp", "capwap"}  # TLS inside these: not read
GQUIC_TLS = {"0x54303530", "0x54303531"}  # Google QUIC T050/T051
MALFORMED = "117440512"  # Wireshark's expert group "Malformed" (PI_MALFORMED)
# Reviewed differences, each with its reason: flows (client address and port) of the merged
# nDPI/nfstream test capture where the monitor reads a handshake Wireshark does not show.
# Anything else must match exactly, both ways.
BENCH = "bench_merged_ndpi-nfstream-tests_ethernet.pcap"
KNOWN_ONLY_OURS = {
    # nDPI's TCP segmentation tests: bytes sent twice at one sequence number, differently
    # (a 2-byte segment, then the whole hello over it). Wireshark keeps the first bytes
    # and sees no hello; the monitor starts the stream at the first bytes that are TLS.
    (BENCH, ("194.226.199.61", 6946)),
    (BENCH, ("194.226.199.103", 62580)),
    (BENCH, ("194.226.199.21", 58155)),
    (BENCH, ("194.226.199.61", 27453)),
    (BENCH, ("194.226.199.9", 49756)),
    # TLS on ports Wireshark gives to other protocols (HTTP 80, RDP 3389): it does not look
    # for TLS there; the monitor reads any TCP stream that starts with a TLS record.
    (BENCH, ("192.168.149.129", 43535)),
    (BENCH, ("57.91.202.194", 50541)),
    (BENCH, ("91.238.181.21", 35888)),
    # Certificate messages cut by the capture: Wireshark shows a certificate only once the
    # whole message is there, the monitor reads the leaf, which comes first and is whole.
    (BENCH, ("192.168.0.1", 51529)),
    (BENCH, ("192.168.0.1", 55077)),
    # hellos Wireshark marks malformed deep inside an extension (a key share's vector);
    # the hello's own vectors are sound and the monitor fingerprints it
    (BENCH, ("192.168.1.12", 49897)),
    (BENCH, ("192.168.0.1", 64455)),
    # QUIC with the reserved version 0xbabababa: Wireshark's tag check fails, the monitor
    # reads it with draft 29's keys and the AEAD tag checks
    (BENCH, ("192.168.56.103", 55523)),
}
FIELDS = (
    "frame.protocols", "ip.src", "ipv6.src", "tcp.srcport", "udp.srcport", "ip.dst",
    "ipv6.dst", "tcp.dstport", "udp.dstport", "tls.handshake.type", "tls.handshake.ja3",
    "tls.handshake.ja3s", "tls.handshake.certificate", "_ws.expert.group", "quic.version",
)  # fmt: skip
Key = tuple[str, int, str, int]  # client address and port, server address and port


def capture(name: str) -> Path:
    return (REPO / "pcaps" / name) if name in SAMPLES else require_shared(Path("pcaps-real", name))


def _inner(layers: list[str], v4: list[str], v6: list[str]) -> str:
    """The innermost address of a frame (a 6in4 tunnel's IPv6, say)."""
    last4 = max((i for i, name in enumerate(layers) if name == "ip"), default=-1)
    last6 = max((i for i, name in enumerate(layers) if name == "ipv6"), default=-1)
    return v6[-1] if last6 > last4 else v4[-1]


@lru_cache(maxsize=4)
def wireshark(path: Path) -> dict[str, dict[Key, list[str]]]:
    """Per flow key: the JA3s, JA3Ss and leaf-certificate SHA-256s Wireshark shows."""
    tshark = require_tool("tshark")
    args = [tshark, "-r", str(path), "-Y", "tls.handshake.type", "-T", "fields"]
    args += ["-o", "tcp.reassemble_out_of_order:TRUE"]  # as the monitor: in sequence order
    for field in FIELDS:
        args += ["-e", field]
    run = subprocess.run(
        [*args, "-E", "occurrence=a", "-E", "aggregator=|"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    out: dict[str, dict[Key, list[str]]] = {"ja3": {}, "ja3s": {}, "cert": {}}
    certs: list[tuple[Key, set[str], str]] = []
    for line in run.stdout.splitlines():
        c = dict(zip(FIELDS, (v.split("|") for v in line.split("\t")), strict=True))
        layers = c["frame.protocols"][0].split(":")
        if NOT_OPENED & {x.split(".")[0] for x in layers} or MALFORMED in c["_ws.expert.group"]:
            continue
        src, dst = (
            _inner(layers, c["ip.src"], c["ipv6.src"]),
            _inner(layers, c["ip.dst"], c["ipv6.dst"]),
        )
        sport = int(c["tcp.srcport"][-1] or c["udp.srcport"][-1])
        dport = int(c["tcp.dstport"][-1] or c["udp.dstport"][-1])
        client: Key = (src, sport, dst, dport)
        server: Key = (dst, dport, src, sport)
        if c["tls.handshake.ja3"][0]:
            out["ja3"].setdefault(client, []).append(c["tls.handshake.ja3"][0])
        if c["tls.handshake.ja3s"][0] and not GQUIC_TLS & set(c["quic.version"]):
            out["ja3s"].setdefault(server, []).append(c["tls.handshake.ja3s"][0])
        if c["tls.handshake.certificate"][0] and "quic" not in layers:
            leaf = bytes.fromhex(c["tls.handshake.certificate"][0].replace(":", ""))
            certs.append((server, set(c["tls.handshake.type"]), hashlib.sha256(leaf).hexdigest()))
    for server, types, sha in certs:  # a client's own certificate (mutual TLS) is not read
        client_sent = (server[2], server[3], server[0], server[1]) in out["ja3"]
        if not client_sent and not types & {"15", "16"}:  # CertificateVerify, ClientKeyExchange
            out["cert"].setdefault(server, []).append(sha)
    return out


@lru_cache(maxsize=4)
def ours(path: Path) -> dict[Key, list[FlowRecord]]:
    flows: dict[Key, list[FlowRecord]] = defaultdict(list)
    for r in run_replay([str(path)], default_policy(), load_catalog()).result.flows:
        flows[(r.orig_addr, r.orig_port, r.resp_addr, r.resp_port)].append(r)
        flows[(r.resp_addr, r.resp_port, r.orig_addr, r.orig_port)].append(r)
    return flows


def _value(record: FlowRecord, what: str) -> str | None:
    if what == "cert":
        return record.tls_certificate.sha256 if record.tls_certificate else None
    value: str | None = getattr(record, what)
    return value


@pytest.mark.parametrize("name", REAL + SAMPLES)
def test_ja3_ja3s_and_certificates_are_wiresharks(name: str) -> None:
    path = capture(name)
    theirs, mine = wireshark(path), ours(path)
    for what, per_flow in theirs.items():
        for key, values in per_flow.items():
            got = {_value(r, what) for r in mine.get(key, [])}
            assert values[0] in got, f"{name}: {what} of {key}: Wireshark {values}, ours {got}"
        keys = {k for k, records in mine.items() for r in records if _value(r, what)}
        for key in keys:  # nothing Wireshark did not see (a key is there in both orders)
            if (name, key[:2]) in KNOWN_ONLY_OURS or (name, key[2:]) in KNOWN_ONLY_OURS:
                continue
            flipped = (key[2], key[3], key[0], key[1])
            seen = per_flow.get(key, []) + per_flow.get(flipped, [])
            assert {_value(r, what) for r in mine[key]} - {None} <= set(seen), (name, what, key)


def test_the_handshake_captures_are_covered() -> None:
    """The real captures with TLS handshakes are many and varied, so the test above bites."""
    counts = {n: sum(len(v) for v in wireshark(capture(n))["ja3"].values()) for n in REAL}
    assert sum(counts.values()) > 900
    assert counts["iotsentinel_dlink-dcs935l-cam_setup-A-1.pcap"] == 0  # SSLv2 hellos: none
    assert len(wireshark(capture("iotsentinel_dlink-dcs935l-cam_setup-A-1.pcap"))["cert"]) == 3


JA4_CAPTURES = [  # every real capture with hellos ja4plus reads, but the 55 MB one (time)
    "iotsentinel_dlink-dcs935l-cam_setup-A-1.pcap", "ndpi_googledns_android10.pcap",
    "ndpi_http_ipv6.pcap", "ndpi_sites_multi-if.pcapng", "ndpi_tls13_unidirectional_client.pcapng",
    "ndpi_tls_no_sni.pcap", "retina_tls_ciphers.pcap", "zeek_quic_win11_firefox_google.pcap",
    "zeek_tls12_chrome-34-google.pcap", "zeek_tls13-ech.pcap",
    "zeek_tls13draft23-chrome67.pcap", *SAMPLES,
]  # fmt: skip


@pytest.mark.parametrize("name", JA4_CAPTURES)
def test_ja4_is_ja4plus(name: str) -> None:
    path = capture(name)
    tool = Path(sys.executable).parent / "ja4plus"
    run = subprocess.run(
        [str(tool), "--format", "json", "--types", "ja4", "analyze", str(path)],
        capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    theirs: dict[Key, list[str]] = defaultdict(list)
    for line in run.stdout.splitlines():
        if line.startswith("{"):
            o = json.loads(line)
            theirs[(o["src_ip"], o["src_port"], o["dst_ip"], o["dst_port"])].append(
                o["fingerprint"]
            )
    mine = ours(path)
    for key, values in theirs.items():
        got = {r.ja4 for r in mine.get(key, [])}
        assert values[0] in got, f"{name}: {key}: ja4plus {values}, ours {got}"
    assert sum(1 for records in mine.values() for r in records if r.ja4) >= 2 * len(theirs)


def test_a_real_cameras_certificate_names_its_cloud_without_dns(tmp_path: Path) -> None:
    """The D-Link DCS-935L's TLS 1.0 hellos carry no SNI; with its DNS traffic cut out of
    the capture, only the server certificates (*.auto.mydlink.com) name mydlink's cloud."""
    source = capture("iotsentinel_dlink-dcs935l-cam_setup-A-1.pcap")
    kept = [
        p
        for p in rdpcap(str(source))
        if not (p.haslayer(UDP) and 53 in (p[UDP].sport, p[UDP].dport))
    ]
    path = tmp_path / "dlink-nodns.pcap"
    wrpcap(str(path), kept)
    result = run_replay([str(path)], default_policy(), load_catalog()).result
    tls = [f for f in result.findings if f.peer_port == 443]
    assert len(tls) == 3
    for f in tls:
        assert (f.kind, f.endpoint, f.peer_name) == (
            "vendor_cloud",
            "mydlink-cloud",
            "*.auto.mydlink.com",
        )
        assert (
            "named by server certificate: *.auto.mydlink.com belongs to mydlink-cloud" in f.evidence
        )
        assert f.tls_certificate is not None and f.tls_certificate.issuer.startswith(
            "CN=GlobalSign"
        )
        assert f.ja3 is None and f.ja3s == "91589ea825a2ee41810c85fab06d2ef6"  # SSLv2 hello
