"""Dissectors on the real captures in ../shared/pcaps-real, checked against tshark."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest
from scapy.all import IP, TCP, UDP, IPv6, Packet, Padding, PcapReader  # all: every link type

from monitor.decode.discovery import dissect_discovery
from monitor.decode.dns import DnsMessage, parse_dns, parse_dns_tcp
from monitor.decode.http import parse_http_request
from monitor.decode.quic import parse_quic_initial, quic_initial_sni
from monitor.decode.tls import client_hello_sni
from monitor.decode.upnp import is_igd_search, parse_ssdp
from tests.requirements import SHARED, require_shared, require_tool

PCAPS = SHARED / "pcaps-real"
pytestmark = [pytest.mark.realpcaps]

NAME_CAPTURES = [
    "zeek_tls12_chrome-34-google.pcap",
    "zeek_tls13-ech.pcap",
    "zeek_tls13draft23-chrome67.pcap",
    "ndpi_tls13_unidirectional_client.pcapng",
    "retina_tls_ciphers.pcap",
    "ndpi_googledns_android10.pcap",
    "zeek_http_get.pcap",
    "zeek_http-vlan-0.pcap",
    "ndpi_http_ipv6.pcap",
    "zeek_mdns.pcap",
    "ndpi_badpackets.pcap",
    "ndpi_malformed_dns.pcap",
    "dpkt_truncated_dns.pcap",
    "zeek_ipv6-fragmented-dns.pcap",
    "zeek_quic_win11_firefox_google.pcap",
    "zeek_quicv2-http3-443.pcap",
    "ndpi_dlt_ppp.pcap",
    "ndpi_sites_multi-if.pcapng",
    "ndpi_nest_log_sink.pcap",
    "ndpi_xiaomi.pcap",
    "iotsentinel_dlink-dcs935l-cam_setup-A-1.pcap",
    "iotsentinel_edimax-cam1_setup-A-1.pcap",
]
# tshark's placeholders for names it cannot show; our parser refuses the same names.
TSHARK_PLACEHOLDERS = {"<Root>", "<Name too long>"}
HOST_PORT = re.compile(r"^([^:\[\]]+):\d+$")


@dataclass(frozen=True, slots=True)
class Segment:
    frame: int
    proto: str
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    payload: bytes


def capture(name: str) -> Path:
    """The real capture ``name``; skip without it (fail under CI)."""
    return require_shared(PCAPS / name)


def tshark_fields(
    path: Path, fields: list[str], display_filter: str | None = None
) -> list[list[str]]:
    """One row per frame, each field a list of values (aggregated with U+001F)."""
    command = [require_tool("tshark"), "-r", str(path), "-T", "fields", "-E", "aggregator=\x1f"]
    command += ["-Y", display_filter] if display_filter else []
    for field in fields:
        command += ["-e", field]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def _payload(layer: Packet, packet: Packet) -> bytes:
    """Transport payload without Ethernet trailer padding (scapy keeps it as Padding)."""
    data = bytes(layer.payload)
    pad = packet.getlayer(Padding)
    return data[: len(data) - len(bytes(pad))] if pad is not None else data


@lru_cache(maxsize=8)
def segments(path: Path) -> tuple[Segment, ...]:
    """TCP and UDP segments of a capture (read once; the files are small)."""
    return tuple(_read_segments(path))


def _read_segments(path: Path) -> Iterator[Segment]:
    with PcapReader(str(path)) as reader:
        for frame, packet in enumerate(reader, 1):
            ip = packet.getlayer(IP) or packet.getlayer(IPv6)
            if ip is None:
                continue
            for proto, layer_type in (("tcp", TCP), ("udp", UDP)):
                layer = packet.getlayer(layer_type)
                if layer is not None:
                    seq = int(layer.seq) if proto == "tcp" else 0
                    payload = _payload(layer, packet)
                    yield Segment(
                        frame, proto, ip.src, layer.sport, ip.dst, layer.dport, seq, payload
                    )
                    break


def _dns_names(msg: DnsMessage) -> set[str]:
    names = {q.name for q in msg.questions}
    names |= {rr.name for rr in (*msg.answers, *msg.authorities, *msg.additionals)}
    return names


def client_streams(path: Path) -> dict[tuple[str, int, str, int], bytes]:
    """Each TCP direction's payload in sequence order (retransmissions dropped), first 64 KiB."""
    streams: dict[tuple[str, int, str, int], bytearray] = {}
    expected: dict[tuple[str, int, str, int], int] = {}
    for seg in segments(path):
        if seg.proto != "tcp" or not seg.payload:
            continue
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        if key in expected and seg.seq != expected[key]:
            continue
        stream = streams.setdefault(key, bytearray())
        if len(stream) < 65536:
            stream += seg.payload
        expected[key] = (seg.seq + len(seg.payload)) & 0xFFFFFFFF
    return {key: bytes(data) for key, data in streams.items()}


def our_names(path: Path) -> set[str]:
    names: set[str] = set()
    for seg in segments(path):
        if seg.proto == "udp" and {53, 5353} & {seg.sport, seg.dport}:
            msg = parse_dns(seg.payload)
            names |= _dns_names(msg) if msg is not None else set()
        if seg.proto == "udp":
            names.add(quic_initial_sni(seg.payload) or "")
        request = parse_http_request(seg.payload)
        names.add(request.host or "" if request is not None else "")
    for key, stream in client_streams(path).items():
        names.add(client_hello_sni(stream) or "")
        if 53 in (key[1], key[3]):
            for msg in parse_dns_tcp(stream, allow_partial=True):
                names |= _dns_names(msg)
    names.discard("")
    return names


def tshark_names(path: Path) -> set[str]:
    fields = ["dns.qry.name", "dns.resp.name", "tls.handshake.extensions_server_name", "http.host"]
    names: set[str] = set()
    for row in tshark_fields(path, fields):
        for field in row:
            for value in field.split("\x1f"):
                if not value or value in TSHARK_PLACEHOLDERS:
                    continue
                value = value.lower().rstrip(".")
                port = HOST_PORT.match(value)  # http.host keeps ":port"; ours drops it
                names.add(port.group(1) if port else value)
    return names


@pytest.mark.tools
@pytest.mark.parametrize("name", NAME_CAPTURES)
def test_names_agree_with_tshark(name: str) -> None:
    path = capture(name)
    assert our_names(path) == tshark_names(path)


@pytest.mark.tools
@pytest.mark.parametrize(
    ("name", "sni"),
    [
        ("zeek_quic_win11_firefox_google.pcap", "www.google.com"),
        ("ndpi_dlt_ppp.pcap", "server4"),
        ("zeek_quicv2-http3-443.pcap", None),
    ],
)
def test_quic_initials_agree_with_tshark(name: str, sni: str | None) -> None:
    path = capture(name)
    rows = tshark_fields(path, ["frame.number", "tls.handshake.extensions_server_name"], "quic")
    theirs = {int(row[0]): row[1] for row in rows if row[1]}
    ours: dict[int, str] = {}
    hellos = 0
    for seg in segments(path):
        initial = parse_quic_initial(seg.payload) if seg.proto == "udp" else None
        hello = initial.client_hello() if initial is not None else None
        if hello is not None:
            hellos += 1
            assert initial is not None and initial.authenticated
            if hello.sni:
                ours[seg.frame] = hello.sni
    assert ours == theirs
    assert hellos >= 1
    assert set(ours.values()) == ({sni} if sni else set())


def test_quic_v2_client_hello_is_decrypted() -> None:
    path = capture("zeek_quicv2-http3-443.pcap")
    initials = [parse_quic_initial(seg.payload) for seg in segments(path) if seg.proto == "udp"]
    hellos = [i.client_hello() for i in initials if i is not None]
    assert any(h is not None and h.alpn == ("h3",) and h.sni is None for h in hellos)
    assert all(i.version == 0x6B3343CF for i in initials if i is not None)


@pytest.mark.parametrize("name", ["dpkt_truncated_dns.pcap", "dpkt_truncated_dns_2_cut-short.pcap"])
def test_snaplen_cut_dns_keeps_the_first_answers(name: str) -> None:
    messages = [parse_dns(seg.payload) for seg in segments(capture(name)) if seg.proto == "udp"]
    assert messages and all(m is not None and not m.complete and m.answers for m in messages)


@pytest.mark.tools
def test_rtsp_requests_agree_with_tshark_frame_by_frame() -> None:
    path = capture("ndpi_rtsp.pcap")
    theirs = {
        int(f): m for f, m in tshark_fields(path, ["frame.number", "rtsp.method"], "rtsp.request")
    }
    ours = {}
    for seg in segments(path):
        request = parse_http_request(seg.payload) if seg.proto == "tcp" else None
        if request is not None:
            assert request.protocol == "rtsp" and request.host == "10.2.2.2"
            ours[seg.frame] = request.method
    assert theirs and all(ours.get(frame) == method for frame, method in theirs.items())
    # tshark skips retransmitted copies; we parse every copy, so we may see more frames.
    assert set(ours.values()) == set(theirs.values())


def test_cameras_searching_for_an_internet_gateway() -> None:
    for name in (
        "iotsentinel_dlink-dcs935l-cam_setup-A-1.pcap",
        "iotsentinel_edimax-cam1_setup-A-1.pcap",
    ):
        searches = [
            msg
            for seg in segments(capture(name))
            if seg.proto == "udp" and seg.dport == 1900
            for msg in [parse_ssdp(seg.payload)]
            if msg is not None and is_igd_search(msg)
        ]
        assert searches, name


def test_discovery_chatter_of_real_devices() -> None:
    seen: dict[str, int] = {}
    for name in (
        "ndpi_ws-discovery.pcap",
        "zeek_mdns.pcap",
        "iotsentinel_dlink-dcs930l-daycam_setup-A-1.pcap",
    ):
        for seg in segments(capture(name)):
            port = next((p for p in (seg.dport, seg.sport) if p in (3702, 5353, 1900)), None)
            info = dissect_discovery(port, seg.payload) if port and seg.proto == "udp" else None
            if info is not None:
                seen[info.protocol] = seen.get(info.protocol, 0) + 1
    assert seen.keys() == {"ws-discovery", "mdns", "ssdp"}
