"""Generate a realistic CCTV-like classic pcap (Ethernet, microseconds), fast.

The capture models one mirror port of a camera segment (10.20.0.0/16, one L2
segment): ~100 cameras (10.20.1.0/24 Hikvision, 10.20.2.0/24 Dahua) stream to
4 recorders (10.20.0.2-5), for 10 minutes of capture time per million packets.

* Bulk video, ~95 % of packets: RTP/UDP video (H.264 FU-A, ~1,400-byte
  payloads, marker on the last packet of a video frame) and RTSP-interleaved
  RTP over TCP port 554 with delayed ACKs back. It is built with numpy from
  three header templates, in chunks of ~8 MiB: headers are patched column-wise,
  payload bytes come from a random pool, and all checksums (IPv4, UDP, TCP)
  are valid (the payload part of the checksum comes from prefix sums over the
  pool).
* The "meaningful" rest is built packet by packet with ``struct``: RTSP control
  (mid-stream keepalives, full new sessions with handshake, OPTIONS, DESCRIBE,
  SETUP, PLAY; short probe connections), RTCP, DNS to 10.20.0.53 (including
  vendor-cloud names), NTP to 10.20.0.123, ONVIF WS-Discovery, Hikvision SADP,
  SSDP, mDNS, TLS ClientHello/ServerHello to vendor clouds in 198.51.100.0/24
  and 203.0.113.0/24 (a few cameras phoning home, one blocked at TCP, one at
  DNS), short HTTP connections between workstations and recorders, ARP.

Frames shorter than 60 bytes are zero-padded, as a switch mirror port shows
them. The generator writes ``OUT`` and ``OUT.count`` (the packet count).
Memory is O(packets x ~100 bytes) for the schedule (~600 MiB at 5M packets)
plus a fixed ~50 MiB for the payload pool and chunk buffers; packet bytes are
never all in memory.

Usage: python bench/make_capture.py [--packets N] [--out PATH] [--seed S]
"""

from __future__ import annotations

import argparse
import array
import ipaddress
import itertools
import os
import struct
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

EPOCH_S = 1_710_230_400  # 2024-03-12 08:00:00 UTC, first packet time
SECONDS_PER_MILLION = 600.0  # capture time per 1,000,000 packets
SNAPLEN = 262_144
LINKTYPE_ETHERNET = 1
ETH_MIN = 60  # minimum frame without FCS; shorter frames are zero-padded
POOL_BYTES = 8 << 20  # random payload pool (a chunk must fit in it)
CHUNK_BYTES = 4 << 20  # bytes of records written per chunk
RTP_FULL = 1400  # RTP payload (with the 2 FU-A bytes) of a full video packet
M32 = 0xFFFFFFFF
LITTLE = sys.byteorder == "little"
MDNS_GROUP = 0xE00000FB  # 224.0.0.251

# Bulk kinds (numpy-built).
K_RTP_UDP, K_RTP_TCP, K_TCP_ACK = 1, 2, 3
BULK_NAMES = {
    K_RTP_UDP: "video RTP/UDP",
    K_RTP_TCP: "video RTP in RTSP/TCP (interleaved)",
    K_TCP_ACK: "TCP ACKs for interleaved video",
}

# TCP flags.
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
SYN_OPTS = bytes.fromhex("020405b40103030701010402")  # MSS 1460, WS 7, SACK_PERM

OUI = {
    "hikvision": (bytes.fromhex("4419b6"), bytes.fromhex("bcad28")),
    "dahua": (bytes.fromhex("3cef8c"), bytes.fromhex("e0508b")),
    "supermicro": (bytes.fromhex("ac1f6b"),),
    "dell": (bytes.fromhex("f8bc12"),),
    "cisco": (bytes.fromhex("d4e880"),),
}
HIK_MODELS = ("DS-2CD2143G2-I", "DS-2CD2387G2-LU", "DS-2DE4425IW-DE", "DS-2CD2T47G2-L")
DAHUA_MODELS = ("IPC-HFW2431S-S-S2", "IPC-HDW3441TM-AS", "SD49425XB-HNR")
CLOUD_NAMES = {
    "hikvision": "litedev.hik-connect.com",
    "dahua": "www.easy4ipcloud.com",
}


def ip4(text: str) -> int:
    """Dotted quad to int."""
    return int(ipaddress.IPv4Address(text))


def ip_text(addr: int) -> str:
    """Int to dotted quad."""
    return str(ipaddress.IPv4Address(addr))


def inet_checksum(data: bytes) -> int:
    """RFC 1071 checksum of ``data`` (computed on native words, byte-order independent)."""
    if len(data) & 1:
        data += b"\x00"
    s = sum(array.array("H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    if LITTLE:
        s = ((s & 0xFF) << 8) | (s >> 8)
    return ~s & 0xFFFF


# ----------------------------------------------------------------------------
# Topology
# ----------------------------------------------------------------------------


@dataclass
class Camera:
    """One IP camera and the recorder that pulls its stream."""

    ip: int
    mac: bytes
    vendor: str
    model: str
    serial: str
    uuid: str
    recorder: int
    tcp: bool  # RTSP-interleaved (RTP over the RTSP TCP connection)
    cam_port: int  # RTP source port (UDP) or 554 (TCP)
    rec_port: int  # RTP destination port (UDP) or the recorder's TCP port
    ssrc: int
    session: int
    restart_us: int | None = None  # stream (re)starts inside the capture


@dataclass
class Site:
    """All hosts of the simulated segment."""

    cameras: list[Camera]
    recorders: list[int]
    workstations: list[int]
    dns: int
    ntp: int
    gateway: int
    macs: dict[int, bytes]
    ttls: dict[int, int]
    names: dict[str, int]  # internal DNS zone


def _mac(oui: bytes, rng: np.random.Generator) -> bytes:
    return oui + rng.bytes(3)


def build_site(rng: np.random.Generator, duration_us: int) -> Site:
    """Create cameras, recorders, workstations and servers with MACs and ports."""
    macs: dict[int, bytes] = {}
    ttls: dict[int, int] = {}
    recorders = [ip4(f"10.20.0.{i}") for i in range(2, 6)]
    for i, r in enumerate(recorders):
        vendor = "hikvision" if i < 2 else "supermicro"
        macs[r] = _mac(OUI[vendor][0], rng)
    workstations = [ip4(f"10.20.0.{i}") for i in range(100, 106)]
    for w in workstations:
        macs[w] = _mac(OUI["dell"][0], rng)
        ttls[w] = 128
    dns, ntp, gateway = ip4("10.20.0.53"), ip4("10.20.0.123"), ip4("10.20.0.1")
    macs[dns] = _mac(OUI["supermicro"][0], rng)
    macs[ntp] = _mac(OUI["supermicro"][0], rng)
    macs[gateway] = _mac(OUI["cisco"][0], rng)
    ttls[gateway] = 255

    cameras: list[Camera] = []
    used_ports: set[int] = set()
    for n in range(100):
        vendor = "hikvision" if n < 60 else "dahua"
        addr = ip4(f"10.20.1.{11 + n}") if n < 60 else ip4(f"10.20.2.{11 + n - 60}")
        mac = _mac(OUI[vendor][n % 2], rng)
        models = HIK_MODELS if vendor == "hikvision" else DAHUA_MODELS
        model = models[n % len(models)]
        serial = f"{model}20230{(n % 9) + 1}15AAWR{rng.integers(10**8, 10**9)}"
        tcp = n % 5 == 2  # 20 % of the cameras use RTSP-interleaved TCP
        while True:
            rec_port = (
                int(rng.integers(21_000, 22_000)) * 2
            )  # 42000-43998: no tshark port dissector
            if rec_port not in used_ports:
                used_ports.add(rec_port)
                break
        cam_port = 554 if tcp else int(rng.integers(14_000, 15_000)) * 2  # 28000-29998, ditto
        restart = None
        if not tcp and rng.random() < 0.15:
            restart = int(rng.uniform(0.05, 0.8) * duration_us)
        cam = Camera(
            ip=addr,
            mac=mac,
            vendor=vendor,
            model=model,
            serial=serial,
            uuid=str(uuid.UUID(bytes=rng.bytes(16), version=4)),
            recorder=recorders[n % 4],
            tcp=tcp,
            cam_port=cam_port,
            rec_port=rec_port,
            ssrc=int(rng.integers(1, M32)),
            session=int(rng.integers(10**8, 10**9)),
            restart_us=restart,
        )
        cameras.append(cam)
        macs[addr] = mac
    names = {f"nvr{i + 1:02d}.cctv.lan": r for i, r in enumerate(recorders)}
    names |= {"ntp.cctv.lan": ntp, "dns.cctv.lan": dns, "vms.cctv.lan": recorders[2]}
    names |= {f"ws{i + 1:02d}.cctv.lan": w for i, w in enumerate(workstations)}
    return Site(cameras, recorders, workstations, dns, ntp, gateway, macs, ttls, names)


# ----------------------------------------------------------------------------
# Per-packet builder for the meaningful traffic
# ----------------------------------------------------------------------------


@dataclass
class Emitter:
    """Collects fully built frames with their time (us from start) and a category."""

    rng: np.random.Generator
    site: Site
    times: list[int] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)
    cats: list[str] = field(default_factory=list)
    _ipid: dict[int, int] = field(default_factory=dict)

    def mac(self, addr: int) -> bytes:
        """MAC of an address as seen on the segment (gateway for the outside)."""
        if addr == 0xFFFFFFFF:
            return b"\xff" * 6
        if addr >> 28 == 0xE:
            return b"\x01\x00\x5e" + (addr & 0x7FFFFF).to_bytes(3, "big")
        return self.site.macs.get(addr, self.site.macs[self.site.gateway])

    def emit(self, t: int, frame: bytes, cat: str) -> None:
        """Record one frame, zero-padding it to the Ethernet minimum."""
        if len(frame) < ETH_MIN:
            frame += bytes(ETH_MIN - len(frame))
        self.times.append(t)
        self.frames.append(frame)
        self.cats.append(cat)

    def clip(self, end: int) -> None:
        """Drop frames at or after ``end``."""
        keep = [i for i, t in enumerate(self.times) if t < end]
        self.times = [self.times[i] for i in keep]
        self.frames = [self.frames[i] for i in keep]
        self.cats = [self.cats[i] for i in keep]

    def ipv4(self, t: int, src: int, dst: int, proto: int, l4: bytes, cat: str) -> None:
        """Emit an IPv4 packet in Ethernet with a per-source IP ID counter."""
        ident = self._ipid.get(src)
        if ident is None:
            ident = int(self.rng.integers(0, 0x10000))
        self._ipid[src] = (ident + 1) & 0xFFFF
        ttl = self.site.ttls.get(src, 64 if src in self.site.macs else 52)
        if dst >> 28 == 0xE:
            ttl = 255 if dst == MDNS_GROUP else 4
        flags = 0x4000 if proto == 6 else 0
        hdr = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(l4),
            ident,
            flags,
            ttl,
            proto,
            0,
            src.to_bytes(4, "big"),
            dst.to_bytes(4, "big"),
        )
        hdr = hdr[:10] + inet_checksum(hdr).to_bytes(2, "big") + hdr[12:]
        self.emit(t, self.mac(dst) + self.mac(src) + b"\x08\x00" + hdr + l4, cat)

    @staticmethod
    def _pseudo(src: int, dst: int, proto: int, length: int) -> bytes:
        return struct.pack("!IIBBH", src, dst, 0, proto, length)

    def udp(
        self, t: int, src: int, sport: int, dst: int, dport: int, payload: bytes, cat: str
    ) -> None:
        """Emit a UDP datagram with a valid checksum."""
        length = 8 + len(payload)
        hdr = struct.pack("!HHHH", sport, dport, length, 0)
        c = inet_checksum(self._pseudo(src, dst, 17, length) + hdr + payload) or 0xFFFF
        self.ipv4(t, src, dst, 17, hdr[:6] + c.to_bytes(2, "big") + payload, cat)

    def tcp(
        self,
        t: int,
        src: int,
        sport: int,
        dst: int,
        dport: int,
        seq: int,
        ack: int,
        flags: int,
        payload: bytes,
        cat: str,
        win: int = 502,
        opts: bytes = b"",
    ) -> None:
        """Emit a TCP segment with a valid checksum."""
        hdr = struct.pack(
            "!HHIIBBHHH",
            sport,
            dport,
            seq & M32,
            ack & M32 if flags & ACK else 0,
            ((20 + len(opts)) // 4) << 4,
            flags,
            win,
            0,
            0,
        )
        hdr += opts
        seg_len = len(hdr) + len(payload)
        c = inet_checksum(self._pseudo(src, dst, 6, seg_len) + hdr + payload)
        self.ipv4(t, src, dst, 6, hdr[:16] + c.to_bytes(2, "big") + hdr[18:] + payload, cat)

    def arp(self, t: int, op: int, sha: bytes, spa: int, tha: bytes, tpa: int) -> None:
        """Emit an ARP request (op 1, broadcast) or reply (op 2, unicast)."""
        dst = b"\xff" * 6 if op == 1 else tha
        body = struct.pack("!HHBBH6sI6sI", 1, 0x0800, 6, 4, op, sha, spa, tha, tpa)
        self.emit(t, dst + sha + b"\x08\x06" + body, "ARP")


class TcpConv:
    """A TCP connection that keeps both sides' sequence numbers consistent."""

    MSS = 1460

    def __init__(
        self,
        em: Emitter,
        cli: int,
        cport: int,
        srv: int,
        sport: int,
        cat: str,
        rtt_us: int = 400,
    ) -> None:
        self.em, self.cli, self.cport, self.srv, self.sport = em, cli, cport, srv, sport
        self.cat, self.rtt = cat, rtt_us
        self.cseq = int(em.rng.integers(0, M32))
        self.sseq = int(em.rng.integers(0, M32))

    def seg(
        self,
        t: int,
        from_client: bool,
        flags: int,
        data: bytes = b"",
        win: int = 502,
        opts: bytes = b"",
    ) -> None:
        """Emit one segment and advance the sender's sequence number."""
        step = len(data) + (1 if flags & (SYN | FIN) else 0)
        em = self.em
        if from_client:
            em.tcp(t, self.cli, self.cport, self.srv, self.sport, self.cseq, self.sseq, flags,
                   data, self.cat, win, opts)  # fmt: skip
            self.cseq = (self.cseq + step) & M32
        else:
            em.tcp(t, self.srv, self.sport, self.cli, self.cport, self.sseq, self.cseq, flags,
                   data, self.cat, win, opts)  # fmt: skip
            self.sseq = (self.sseq + step) & M32

    def handshake(self, t: int) -> int:
        """SYN, SYN-ACK, ACK; returns the time after it."""
        self.seg(t, True, SYN, win=64240, opts=SYN_OPTS)
        t += self.rtt // 2
        self.seg(t, False, SYN | ACK, win=65160, opts=SYN_OPTS)
        t += self.rtt // 2
        self.seg(t, True, ACK)
        return t + 30

    def send(self, t: int, from_client: bool, data: bytes, gap_us: int = 12) -> int:
        """Send ``data`` in MSS-sized segments (PSH on the last); returns the time after."""
        for i in range(0, len(data), self.MSS):
            last = i + self.MSS >= len(data)
            self.seg(t, from_client, ACK | (PSH if last else 0), data[i : i + self.MSS])
            t += gap_us
        return t

    def ack(self, t: int, from_client: bool) -> int:
        """A pure ACK."""
        self.seg(t, from_client, ACK)
        return t + 10

    def close(self, t: int, from_client: bool = True) -> int:
        """FIN/ACK, FIN/ACK, ACK."""
        self.seg(t, from_client, FIN | ACK)
        t += self.rtt // 2
        self.seg(t, not from_client, FIN | ACK)
        t += self.rtt // 2
        self.seg(t, from_client, ACK)
        return t + 10


# ----------------------------------------------------------------------------
# Application payloads
# ----------------------------------------------------------------------------


def dns_name(name: str) -> bytes:
    """Uncompressed DNS name."""
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def dns_message(
    qid: int,
    flags: int,
    qname: str,
    qtype: int,
    answers: list[tuple[int, int, bytes]] | None = None,
) -> bytes:
    """A DNS message with one question; answers are (type, ttl, rdata) for the qname."""
    answers = answers or []
    msg = struct.pack("!HHHHHH", qid, flags, 1, len(answers), 0, 0)
    msg += dns_name(qname) + struct.pack("!HH", qtype, 1)
    for rtype, ttl, rdata in answers:
        msg += b"\xc0\x0c" + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata
    return msg


def tls_client_hello(sni: str, rng: np.random.Generator) -> bytes:
    """A TLS 1.3-capable ClientHello record with SNI."""
    name = sni.encode()
    ciphers = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8]
    ciphers += [0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035]

    def ext(etype: int, body: bytes) -> bytes:
        return struct.pack("!HH", etype, len(body)) + body

    sni_list = struct.pack("!BH", 0, len(name)) + name
    exts = ext(0, struct.pack("!H", len(sni_list)) + sni_list)
    exts += ext(23, b"")  # extended_master_secret
    exts += ext(65281, b"\x00")  # renegotiation_info
    exts += ext(10, struct.pack("!HHHH", 6, 0x001D, 0x0017, 0x0018))  # groups
    exts += ext(11, b"\x01\x00")  # ec_point_formats
    exts += ext(16, b"\x00\x0c\x02h2\x08http/1.1")  # ALPN
    sigs = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]
    exts += ext(13, struct.pack("!H", 2 * len(sigs)) + struct.pack(f"!{len(sigs)}H", *sigs))
    exts += ext(51, struct.pack("!HHH", 36, 0x001D, 32) + rng.bytes(32))  # key_share
    exts += ext(45, b"\x01\x01")  # psk_key_exchange_modes
    exts += ext(43, b"\x04\x03\x04\x03\x03")  # supported_versions
    body = b"\x03\x03" + rng.bytes(32) + b"\x20" + rng.bytes(32)
    body += struct.pack("!H", 2 * len(ciphers)) + struct.pack(f"!{len(ciphers)}H", *ciphers)
    body += b"\x01\x00" + struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls_server_flight(rng: np.random.Generator, session_id: bytes) -> bytes:
    """ServerHello (TLS 1.3), ChangeCipherSpec and encrypted handshake records."""

    def ext(etype: int, body: bytes) -> bytes:
        return struct.pack("!HH", etype, len(body)) + body

    exts = ext(43, b"\x03\x04") + ext(51, struct.pack("!HH", 0x001D, 32) + rng.bytes(32))
    body = b"\x03\x03" + rng.bytes(32) + bytes([len(session_id)]) + session_id
    body += b"\x13\x01\x00" + struct.pack("!H", len(exts)) + exts
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    out = b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs
    out += b"\x14\x03\x03\x00\x01\x01"
    for size in (int(rng.integers(2500, 4200)), 281, 69):
        out += tls_app_data(rng, size)
    return out


def tls_app_data(rng: np.random.Generator, size: int) -> bytes:
    """An opaque TLS application-data record."""
    return b"\x17\x03\x03" + struct.pack("!H", size) + rng.bytes(size)


def rtsp_url(cam: Camera) -> str:
    """The stream URL a recorder would use for this camera."""
    if cam.vendor == "hikvision":
        return f"rtsp://{ip_text(cam.ip)}:554/Streaming/Channels/101"
    return f"rtsp://{ip_text(cam.ip)}:554/cam/realmonitor?channel=1&subtype=0"


def rtsp_req(method: str, url: str, cseq: int, extra: str = "") -> bytes:
    """An RTSP request head."""
    return (
        f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\n{extra}"
        "User-Agent: LibVLC/3.0.18 (LIVE555 Streaming Media v2016.11.28)\r\n\r\n"
    ).encode()


def rtsp_resp(cseq: int, extra: str = "", body: str = "", status: str = "200 OK") -> bytes:
    """An RTSP response."""
    head = f"RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n{extra}"
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "Date: Tue, Mar 12 2024 08:00:00 GMT\r\n\r\n" + body).encode()


def sdp(cam: Camera) -> str:
    """Session description for the camera's H.264 stream."""
    return (
        "v=0\r\n"
        f"o=- {cam.session} 1 IN IP4 {ip_text(cam.ip)}\r\n"
        "s=Media Presentation\r\ne=NONE\r\nb=AS:5100\r\nt=0 0\r\n"
        "a=control:*\r\nm=video 0 RTP/AVP 96\r\nc=IN IP4 0.0.0.0\r\nb=AS:5000\r\n"
        "a=recvonly\r\na=x-dimensions:2688,1520\r\na=control:trackID=1\r\n"
        "a=rtpmap:96 H264/90000\r\n"
        "a=fmtp:96 profile-level-id=420029; packetization-mode=1; "
        "sprop-parameter-sets=Z01AKI2NQDwBE/LCAAAOEAACvyAI,aO44gA==\r\n"
    )


def wsd_probe(msg_id: str) -> bytes:
    """ONVIF WS-Discovery Probe for NetworkVideoTransmitter."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing">'
        '<s:Header><a:Action s:mustUnderstand="1">'
        "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>"
        f"<a:MessageID>uuid:{msg_id}</a:MessageID><a:ReplyTo><a:Address>"
        "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
        '</a:Address></a:ReplyTo><a:To s:mustUnderstand="1">'
        "urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header><s:Body>"
        '<Probe xmlns="http://schemas.xmlsoap.org/ws/2005/04/discovery">'
        '<d:Types xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:dp0="http://www.onvif.org/ver10/network/wsdl">'
        "dp0:NetworkVideoTransmitter</d:Types></Probe></s:Body></s:Envelope>"
    ).encode()


def wsd_match(cam: Camera, relates_to: str, msg_id: str) -> bytes:
    """ONVIF WS-Discovery ProbeMatches from a camera."""
    brand = "HIKVISION" if cam.vendor == "hikvision" else "Dahua"
    scopes = " ".join(
        [
            "onvif://www.onvif.org/type/video_encoder",
            "onvif://www.onvif.org/Profile/Streaming",
            "onvif://www.onvif.org/Profile/G",
            "onvif://www.onvif.org/Profile/T",
            f"onvif://www.onvif.org/name/{brand}%20{cam.model}",
            f"onvif://www.onvif.org/hardware/{cam.model}",
            "onvif://www.onvif.org/location/city/hangzhou",
        ]
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><env:Header>'
        f"<wsa:MessageID>uuid:{msg_id}</wsa:MessageID>"
        f"<wsa:RelatesTo>uuid:{relates_to}</wsa:RelatesTo>"
        "<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>"
        "<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches"
        "</wsa:Action></env:Header><env:Body><d:ProbeMatches><d:ProbeMatch>"
        "<wsa:EndpointReference>"
        f"<wsa:Address>urn:uuid:{cam.uuid}</wsa:Address></wsa:EndpointReference>"
        "<d:Types>dn:NetworkVideoTransmitter</d:Types>"
        f"<d:Scopes>{scopes}</d:Scopes>"
        f"<d:XAddrs>http://{ip_text(cam.ip)}/onvif/device_service</d:XAddrs>"
        "<d:MetadataVersion>10</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches>"
        "</env:Body></env:Envelope>"
    ).encode()


def sadp_inquiry(probe_id: str) -> bytes:
    """Hikvision SADP inquiry (as sent by the SADP tool)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Probe><Uuid>{probe_id.upper()}</Uuid><Types>inquiry</Types></Probe>"
    ).encode()


def sadp_match(cam: Camera, probe_id: str) -> bytes:
    """Hikvision SADP ProbeMatch announcing one camera."""
    mac = "-".join(f"{b:02x}" for b in cam.mac)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><ProbeMatch>'
        f"<Uuid>{probe_id.upper()}</Uuid><Types>inquiry</Types>"
        f"<DeviceType>138153</DeviceType><DeviceDescription>{cam.model}</DeviceDescription>"
        f"<DeviceSN>{cam.serial}</DeviceSN><CommandPort>8000</CommandPort>"
        f"<HttpPort>80</HttpPort><MAC>{mac}</MAC><IPv4Address>{ip_text(cam.ip)}</IPv4Address>"
        "<IPv4SubnetMask>255.255.0.0</IPv4SubnetMask><IPv4Gateway>10.20.0.1</IPv4Gateway>"
        "<IPv6Address>::</IPv6Address><IPv6Gateway>::</IPv6Gateway>"
        "<IPv6MaskLen>64</IPv6MaskLen><DHCP>false</DHCP><AnalogChannelNum>0"
        "</AnalogChannelNum><DigitalChannelNum>1</DigitalChannelNum>"
        "<SoftwareVersion>V5.7.3build 220112</SoftwareVersion>"
        "<DSPVersion>V7.3 build 220112</DSPVersion>"
        "<BootTime>2024-03-01 06:12:40</BootTime><Encrypt>true</Encrypt>"
        "<ResetAbility>false</ResetAbility><DiskNumber>0</DiskNumber>"
        "<Activated>true</Activated><PasswordResetAbility>true</PasswordResetAbility>"
        "<SupportHCPlatform>true</SupportHCPlatform>"
        "<HCPlatformEnable>true</HCPlatformEnable>"
        "<IsModifyVerificationCode>true</IsModifyVerificationCode>"
        "<SDKServerStatus>true</SDKServerStatus>"
        "<SDKOverTLSServerStatus>false</SDKOverTLSServerStatus>"
        "<SDKOverTLSPort>8443</SDKOverTLSPort></ProbeMatch>"
    ).encode()


def ssdp_notify(cam: Camera, nt: str) -> bytes:
    """SSDP NOTIFY ssdp:alive from a camera."""
    usn = f"uuid:{cam.uuid}" + ("" if nt.startswith("uuid:") else f"::{nt}")
    server = "Linux/3.0, UPnP/1.0, " + (
        "Hikvision-Webs" if cam.vendor == "hikvision" else "Dahua Rpc/1.0"
    )
    return (
        "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n"
        f"LOCATION: http://{ip_text(cam.ip)}:49152/rootDesc.xml\r\nNT: {nt}\r\n"
        f"NTS: ssdp:alive\r\nSERVER: {server}\r\nUSN: {usn}\r\n\r\n"
    ).encode()


def ntp_packet(mode: int, t_us: int, orig: bytes = b"\x00" * 8) -> bytes:
    """NTPv4 client (mode 3) or server (mode 4) packet at time ``t_us``."""

    def ts(us: int) -> bytes:
        sec = EPOCH_S + us // 1_000_000 + 2_208_988_800
        frac = ((us % 1_000_000) << 32) // 1_000_000
        return struct.pack("!II", sec & M32, frac)

    if mode == 3:
        return struct.pack("!BBbb", 0x23, 0, 6, -23) + bytes(36) + ts(t_us)
    head = struct.pack("!BBbbII4s", 0x24, 1, 6, -23, 0, 0x20, b"GPS\x00")
    return head + ts(t_us - 16_000_000) + orig + ts(t_us - 15) + ts(t_us)


def rtcp_sr(ssrc: int, t_us: int, packets: int, cname: str) -> bytes:
    """RTCP compound: sender report + SDES CNAME."""
    sec = EPOCH_S + t_us // 1_000_000 + 2_208_988_800
    frac = ((t_us % 1_000_000) << 32) // 1_000_000
    sr = struct.pack(
        "!BBHIIIIII",
        0x80,
        200,
        6,
        ssrc,
        sec & M32,
        frac,
        (t_us * 9 // 100) & M32,
        packets & M32,
        (packets * RTP_FULL) & M32,
    )
    return sr + sdes(ssrc, cname)


def rtcp_rr(ssrc: int, media_ssrc: int, highest_seq: int, cname: str) -> bytes:
    """RTCP compound: receiver report with one block + SDES CNAME."""
    rr = struct.pack("!BBHI", 0x81, 201, 7, ssrc)
    rr += struct.pack("!IIIIII", media_ssrc, 0, highest_seq & M32, 35, 0, 0)
    return rr + sdes(ssrc, cname)


def sdes(ssrc: int, cname: str) -> bytes:
    """RTCP SDES chunk with a CNAME, padded to 32 bits."""
    item = b"\x01" + bytes([len(cname)]) + cname.encode() + b"\x00"
    item += bytes(-(4 + len(item)) % 4)
    return struct.pack("!BBHI", 0x81, 202, (4 + len(item)) // 4, ssrc) + item


# ----------------------------------------------------------------------------
# Meaningful traffic scenarios
# ----------------------------------------------------------------------------


class Scenario:
    """Generates the per-packet (non-bulk) traffic of the segment."""

    def __init__(self, em: Emitter, site: Site, duration_us: int) -> None:
        self.em, self.site, self.d = em, site, duration_us
        self.rng = em.rng
        self.stream_start: dict[int, int] = {}  # camera ip -> first RTP time

    def uni(self, lo: float, hi: float) -> int:
        """Uniform integer in [lo, hi)."""
        return int(self.rng.uniform(lo, hi))

    def periodic(self, period_us: float, jitter: float = 0.1) -> list[int]:
        """Times of a periodic event with a random phase and jitter, inside the capture."""
        t = self.rng.uniform(0, period_us)
        out = []
        while t < self.d:
            out.append(int(t))
            t += period_us * (1 + self.rng.uniform(-jitter, jitter))
        return out

    def poisson(self, rate_per_s: float) -> list[int]:
        """Sorted event times of a Poisson process over the capture."""
        n = int(self.rng.poisson(rate_per_s * self.d / 1e6))
        return sorted(int(x) for x in self.rng.uniform(0, self.d, n))

    def eph(self) -> int:
        """An ephemeral port."""
        return int(self.rng.integers(32768, 61000))

    def run(self) -> None:
        """All scenarios."""
        self.rtsp_control()
        self.rtsp_probes()
        self.rtcp()
        self.dns_internal()
        self.ntp()
        self.discovery()
        self.phone_home()
        self.http()
        self.arp()

    # -- RTSP -------------------------------------------------------------

    def rtsp_session(self, t: int, cam: Camera) -> tuple[TcpConv, int]:
        """A full RTSP session set-up on a new TCP connection; returns (conv, PLAY time)."""
        cv = TcpConv(self.em, cam.recorder, self.eph(), cam.ip, 554, "RTSP", rtt_us=350)
        t = cv.handshake(t)
        url = rtsp_url(cam)
        realm = "IP Camera(C6155)" if cam.vendor == "hikvision" else "Login to 3cef8c"
        nonce = self.rng.bytes(16).hex()
        auth = (
            f'Authorization: Digest username="recorder", realm="{realm}", nonce="{nonce}", '
            f'uri="{url}", response="{self.rng.bytes(16).hex()}"\r\n'
        )
        steps: list[tuple[bytes, bytes]] = [
            (
                rtsp_req("OPTIONS", url, 2),
                rtsp_resp(
                    2,
                    "Public: OPTIONS, DESCRIBE, PLAY, PAUSE, SETUP, TEARDOWN, "
                    "SET_PARAMETER, GET_PARAMETER\r\n",
                ),
            ),
            (
                rtsp_req("DESCRIBE", url, 3, "Accept: application/sdp\r\n"),
                rtsp_resp(
                    3,
                    f'WWW-Authenticate: Digest realm="{realm}", nonce="{nonce}", stale="FALSE"\r\n',
                    status="401 Unauthorized",
                ),
            ),
            (
                rtsp_req("DESCRIBE", url, 4, "Accept: application/sdp\r\n" + auth),
                rtsp_resp(
                    4, f"Content-Type: application/sdp\r\nContent-Base: {url}/\r\n", sdp(cam)
                ),
            ),
            (
                rtsp_req(
                    "SETUP",
                    f"{url}/trackID=1",
                    5,
                    f"{auth}Transport: RTP/AVP;unicast;"
                    f"client_port={cam.rec_port}-{cam.rec_port + 1}\r\n",
                ),
                rtsp_resp(
                    5,
                    f"Session: {cam.session};timeout=60\r\n"
                    f"Transport: RTP/AVP;unicast;client_port={cam.rec_port}-{cam.rec_port + 1};"
                    f"server_port={cam.cam_port}-{cam.cam_port + 1};ssrc={cam.ssrc:08x};"
                    'mode="play"\r\n',
                ),
            ),
            (
                rtsp_req(
                    "PLAY", f"{url}/", 6, auth + f"Session: {cam.session}\r\nRange: npt=0.000-\r\n"
                ),
                rtsp_resp(
                    6,
                    f"Session: {cam.session}\r\nRTP-Info: url={url}/trackID=1;seq=1;rtptime=0\r\n",
                ),
            ),
        ]
        for req, resp in steps:
            t = cv.send(t, True, req)
            t += self.uni(800, 6000)
            t = cv.send(t, False, resp)
            t += self.uni(300, 2000)
        t = cv.ack(t, True)
        return cv, t

    def keepalive(self, t: int, cv: TcpConv, cam: Camera, cseq: int) -> None:
        """GET_PARAMETER keepalive, its answer and the delayed ACK."""
        t = cv.send(
            t,
            True,
            rtsp_req("GET_PARAMETER", rtsp_url(cam) + "/", cseq, f"Session: {cam.session}\r\n"),
        )
        t += self.uni(500, 3000)
        t = cv.send(t, False, rtsp_resp(cseq, f"Session: {cam.session}\r\n"))
        cv.ack(t + 40_000, True)

    def rtsp_control(self) -> None:
        """Control connections of the UDP streams: keepalives and in-capture restarts."""
        for cam in self.site.cameras:
            if cam.tcp:
                self.stream_start[cam.ip] = 0
                continue
            if cam.restart_us is None:
                cv = TcpConv(self.em, cam.recorder, self.eph(), cam.ip, 554, "RTSP")
                self.stream_start[cam.ip] = 0
                first = self.uni(0, 30e6)
            else:
                cv, t_play = self.rtsp_session(cam.restart_us, cam)
                self.stream_start[cam.ip] = t_play + 2_000
                first = cam.restart_us + 30_000_000
            cseq = 7
            for t in range(first, self.d, 30_000_000):
                self.keepalive(t + self.uni(0, 200_000), cv, cam, cseq)
                cseq += 1

    def rtsp_probes(self) -> None:
        """The VMS checks a random camera every ~15 s: OPTIONS, DESCRIBE (401), close."""
        vms = self.site.recorders[2]
        for t in self.periodic(15e6, 0.3):
            cam = self.site.cameras[int(self.rng.integers(len(self.site.cameras)))]
            url = rtsp_url(cam)
            cv = TcpConv(self.em, vms, self.eph(), cam.ip, 554, "RTSP", rtt_us=300)
            t = cv.handshake(t)
            t = cv.send(t, True, rtsp_req("OPTIONS", url, 1))
            t = cv.send(
                t + self.uni(500, 3000), False, rtsp_resp(1, "Public: OPTIONS, DESCRIBE\r\n")
            )
            t = cv.send(t + 200, True, rtsp_req("DESCRIBE", url, 2, "Accept: application/sdp\r\n"))
            t = cv.send(
                t + self.uni(500, 3000),
                False,
                rtsp_resp(2, 'WWW-Authenticate: Basic realm="/"\r\n', status="401 Unauthorized"),
            )
            cv.close(t + 1000, True)

    def rtcp(self) -> None:
        """RTCP sender reports from cameras and receiver reports from recorders (UDP)."""
        for cam in self.site.cameras:
            if cam.tcp:
                continue
            start = self.stream_start[cam.ip]
            cname = f"rec{cam.recorder & 0xFF}@{ip_text(cam.recorder)}"
            rec_ssrc = int(self.rng.integers(1, M32))
            for t in self.periodic(10e6, 0.2):
                if t < start:
                    continue
                n = (t - start) // 50_000
                sr = rtcp_sr(cam.ssrc, t, n, f"cam@{ip_text(cam.ip)}")
                self.em.udp(t, cam.ip, cam.cam_port + 1, cam.recorder, cam.rec_port + 1, sr, "RTCP")
                rr = rtcp_rr(rec_ssrc, cam.ssrc, n, cname)
                t2 = t + self.uni(1e5, 3e6)
                self.em.udp(
                    t2, cam.recorder, cam.rec_port + 1, cam.ip, cam.cam_port + 1, rr, "RTCP"
                )

    # -- DNS / NTP ----------------------------------------------------------

    def dns_exchange(
        self,
        t: int,
        client: int,
        qname: str,
        answers: list[tuple[int, int, bytes]] | None,
        qtype: int = 1,
    ) -> int:
        """Query and answer (NXDOMAIN if ``answers`` is None); returns the answer time."""
        qid, port = int(self.rng.integers(0, 0x10000)), self.eph()
        q = dns_message(qid, 0x0100, qname, qtype)
        self.em.udp(t, client, port, self.site.dns, 53, q, "DNS")
        flags = 0x8183 if answers is None else 0x8180
        r = dns_message(qid, flags, qname, qtype, answers)
        t += self.uni(300, 30_000)
        self.em.udp(t, self.site.dns, 53, client, port, r, "DNS")
        return t

    def dns_internal(self) -> None:
        """Workstations and recorders resolve internal names (a few fail)."""
        names = list(self.site.names.items())
        clients = self.site.workstations + self.site.recorders
        for t in self.poisson(4.0):
            client = clients[int(self.rng.integers(len(clients)))]
            if self.rng.random() < 0.1:
                name = ["wpad.cctv.lan", "isatap.cctv.lan", "_ldap._tcp.dc.cctv.lan"][
                    int(self.rng.integers(3))
                ]
                self.dns_exchange(t, client, name, None)
                continue
            name, addr = names[int(self.rng.integers(len(names)))]
            self.dns_exchange(t, client, name, [(1, 3600, addr.to_bytes(4, "big"))])

    def ntp(self) -> None:
        """Every camera and recorder polls the local NTP server every ~64 s."""
        clients = [c.ip for c in self.site.cameras] + self.site.recorders
        for client in clients:
            port = 123 if client in self.site.recorders else self.eph()
            for t in self.periodic(64e6, 0.05):
                q = ntp_packet(3, t)
                self.em.udp(t, client, port, self.site.ntp, 123, q, "NTP")
                t2 = t + self.uni(150, 900)
                self.em.udp(
                    t2, self.site.ntp, 123, client, port, ntp_packet(4, t2, q[40:48]), "NTP"
                )

    # -- discovery ----------------------------------------------------------

    def discovery(self) -> None:
        """WS-Discovery, SADP, SSDP and mDNS."""
        mcast, site = ip4("239.255.255.250"), self.site
        # ONVIF WS-Discovery: a recorder probes each minute, every camera answers.
        for i, t in enumerate(self.periodic(60e6, 0.05)):
            rec, port, probe = site.recorders[i % 4], self.eph(), self._uuid()
            self.em.udp(t, rec, port, mcast, 3702, wsd_probe(probe), "WS-Discovery")
            for cam in site.cameras:
                tc = t + self.uni(2_000, 900_000)
                self.em.udp(
                    tc, cam.ip, 3702, rec, port, wsd_match(cam, probe, self._uuid()), "WS-Discovery"
                )
        # Hikvision SADP: a workstation runs the SADP tool every two minutes.
        hik = [c for c in site.cameras if c.vendor == "hikvision"]
        for t in self.periodic(120e6, 0.2):
            ws, probe = site.workstations[0], self._uuid()
            self.em.udp(t, ws, 37020, mcast, 37020, sadp_inquiry(probe), "SADP")
            for cam in hik:
                tc = t + self.uni(5_000, 500_000)
                self.em.udp(tc, cam.ip, 37020, mcast, 37020, sadp_match(cam, probe), "SADP")
        # SSDP: cameras announce themselves every 3 minutes (3 NOTIFYs each) ...
        for cam in site.cameras:
            for t in self.periodic(180e6, 0.1):
                nts = ["upnp:rootdevice", f"uuid:{cam.uuid}", "urn:schemas-upnp-org:device:Basic:1"]
                for j, nt in enumerate(nts):
                    self.em.udp(
                        t + 300 * j, cam.ip, 1900, mcast, 1900, ssdp_notify(cam, nt), "SSDP"
                    )
        # ... and workstations search now and then; a few cameras answer.
        search = b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n'
        search += b"MX: 1\r\nST: ssdp:all\r\nUSER-AGENT: Microsoft-Windows/10.0 UPnP/1.0\r\n\r\n"
        for t in self.periodic(90e6, 0.3):
            ws, port = site.workstations[int(self.rng.integers(len(site.workstations)))], self.eph()
            self.em.udp(t, ws, port, mcast, 1900, search, "SSDP")
            for k in self.rng.choice(len(site.cameras), 8, replace=False):
                cam = site.cameras[int(k)]
                ok = (
                    "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\n"
                    f"LOCATION: http://{ip_text(cam.ip)}:49152/rootDesc.xml\r\n"
                    "SERVER: Linux/3.0, UPnP/1.0\r\nST: upnp:rootdevice\r\n"
                    f"USN: uuid:{cam.uuid}::upnp:rootdevice\r\n\r\n"
                ).encode()
                self.em.udp(t + self.uni(1e4, 9e5), cam.ip, 1900, ws, port, ok, "SSDP")
        # mDNS: workstations browse for services.
        mdns = ip4("224.0.0.251")
        services = [
            "_googlecast._tcp.local",
            "_ipp._tcp.local",
            "_http._tcp.local",
            "_onvif._tcp.local",
            "_spotify-connect._tcp.local",
        ]
        for t in self.poisson(0.4):
            ws = site.workstations[int(self.rng.integers(len(site.workstations)))]
            q = dns_message(0, 0, services[int(self.rng.integers(len(services)))], 12)
            self.em.udp(t, ws, 5353, mdns, 5353, q, "mDNS")

    def _uuid(self) -> str:
        return str(uuid.UUID(bytes=self.rng.bytes(16), version=4))

    # -- egress ---------------------------------------------------------------

    def phone_home(self) -> None:
        """A few cameras resolve their vendor cloud and open TLS to it; two are blocked."""
        site = self.site
        hik = [c for c in site.cameras if c.vendor == "hikvision" and not c.tcp]
        dahua = [c for c in site.cameras if c.vendor == "dahua" and not c.tcp]
        cloud_ip = {
            "hikvision": [ip4("198.51.100.23"), ip4("198.51.100.87")],
            "dahua": [ip4("203.0.113.45"), ip4("203.0.113.46")],
        }
        callers = [*hik[3:6], *dahua[1:3]]
        for cam in callers:
            name, addrs = CLOUD_NAMES[cam.vendor], cloud_ip[cam.vendor]
            for t in self.periodic(150e6, 0.3):
                answers = [(1, 300, a.to_bytes(4, "big")) for a in addrs]
                t = self.dns_exchange(t, cam.ip, name, answers) + self.uni(2_000, 20_000)
                dst = addrs[int(self.rng.integers(len(addrs)))]
                self.tls_session(t, cam.ip, dst, name)
        # Blocked at the firewall: SYN retransmissions, never answered.
        blocked = hik[6]
        for t in self.periodic(300e6, 0.2):
            answer = [(1, 300, cloud_ip["hikvision"][1].to_bytes(4, "big"))]
            t = self.dns_exchange(t, blocked.ip, CLOUD_NAMES["hikvision"], answer)
            cv = TcpConv(self.em, blocked.ip, self.eph(), cloud_ip["hikvision"][1], 443, "TLS")
            for k, delay in enumerate((0, 1, 3, 7)):
                cv.seg(t + delay * 1_000_000 + 5_000, True, SYN, win=64240, opts=SYN_OPTS)
                if k < 3:
                    cv.cseq = (cv.cseq - 1) & M32  # retransmission: same ISN
        # Blocked at DNS: the name does not resolve.
        for t in self.periodic(200e6, 0.2):
            self.dns_exchange(t, dahua[3].ip, CLOUD_NAMES["dahua"], None)

    def tls_session(self, t: int, cli: int, srv: int, sni: str) -> None:
        """TCP handshake, ClientHello, server flight, a little application data, close."""
        cv = TcpConv(self.em, cli, self.eph(), srv, 443, "TLS", rtt_us=self.uni(30_000, 180_000))
        t = cv.handshake(t)
        hello = tls_client_hello(sni, self.rng)
        t = cv.send(t, True, hello)
        t += cv.rtt // 2
        t = cv.send(t, False, tls_server_flight(self.rng, hello[44:76]))
        t = cv.ack(t + 50, True)
        t = cv.send(t + 2_000, True, b"\x14\x03\x03\x00\x01\x01" + tls_app_data(self.rng, 53))
        t = cv.send(t + 100, True, tls_app_data(self.rng, int(self.rng.integers(300, 900))))
        t += cv.rtt // 2
        t = cv.send(t, False, tls_app_data(self.rng, int(self.rng.integers(200, 2500))))
        t = cv.ack(t + 50, True)
        cv.close(t + self.uni(1e6, 5e6), True)

    # -- HTTP / ARP -------------------------------------------------------------

    def http(self) -> None:
        """Short HTTP connections between workstations and recorders (~3/s)."""
        paths = [
            "/ISAPI/System/status",
            "/ISAPI/ContentMgmt/record/tracks",
            "/ISAPI/System/Video/inputs/channels",
            "/cgi-bin/recordManager.cgi?action=getCaps",
            "/api/v1/cameras/health",
        ]
        for t in self.poisson(3.0):
            ws = self.site.workstations[int(self.rng.integers(len(self.site.workstations)))]
            rec = self.site.recorders[int(self.rng.integers(4))]
            path = paths[int(self.rng.integers(len(paths)))]
            cv = TcpConv(self.em, ws, self.eph(), rec, 80, "HTTP", rtt_us=250)
            t = cv.handshake(t)
            req = (
                f"GET {path} HTTP/1.1\r\nHost: {ip_text(rec)}\r\n"
                "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\n"
                "Accept: application/xml\r\nConnection: close\r\n\r\n"
            ).encode()
            t = cv.send(t, True, req)
            body = "<?xml version='1.0' encoding='UTF-8'?><Status>" + "<ok/>" * int(
                self.rng.integers(20, 700)
            )
            body += "</Status>"
            resp = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
            ).encode()
            t = cv.send(t + self.uni(1_000, 20_000), False, resp)
            t = cv.ack(t + 100, True)
            cv.close(t + 200, False)

    def arp(self) -> None:
        """ARP requests and replies between local hosts; gratuitous ARP on restarts."""
        site = self.site
        hosts = [c.ip for c in site.cameras] + site.recorders + site.workstations
        for t in self.poisson(1.0):
            a, b = (hosts[int(i)] for i in self.rng.choice(len(hosts), 2, replace=False))
            self.em.arp(t, 1, site.macs[a], a, bytes(6), b)
            self.em.arp(t + self.uni(50, 800), 2, site.macs[b], b, site.macs[a], a)
        for cam in site.cameras:
            if cam.restart_us is not None:
                t0 = max(0, cam.restart_us - 2_000_000)
                for k in range(3):
                    self.em.arp(t0 + k * 200_000, 1, cam.mac, cam.ip, bytes(6), cam.ip)


# ----------------------------------------------------------------------------
# Bulk video, vectorised
# ----------------------------------------------------------------------------


@dataclass
class Bulk:
    """Per-packet schedule of bulk video packets (all arrays share one index)."""

    ts: np.ndarray  # int64 us
    kind: np.ndarray  # uint8
    stream: np.ndarray  # uint16, index into the stream tables
    flen: np.ndarray  # int32 frame length
    ipid: np.ndarray  # uint16
    rtpseq: np.ndarray  # uint16
    rtpts: np.ndarray  # uint32
    flags: np.ndarray  # uint8: bit0 last packet of a video frame, bit1 first
    tval: np.ndarray  # uint32: TCP seq (data) or ack number (ACK)


@dataclass
class StreamTable:
    """Per-stream constants used to patch the header templates."""

    cam_ip: np.ndarray
    rec_ip: np.ndarray
    cam_mac: np.ndarray  # (n, 6) uint8
    rec_mac: np.ndarray
    cam_port: np.ndarray
    rec_port: np.ndarray
    ssrc: np.ndarray
    rec_isn: np.ndarray


def video_packets(
    rng: np.random.Generator, n: int, t0: int, t1: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Times, RTP payload lengths, video-frame index and flags for ``n`` packets of a stream.

    Packets are grouped into video frames (about six per frame, 90 us apart); the
    last packet of each frame is shorter and carries the RTP marker.
    """
    dur_s = max((t1 - t0) / 1e6, 1e-3)
    fps = max(n / dur_s / 6.0, 0.5)
    n_frames = max(1, int(dur_s * fps))
    frame_us = (t1 - t0) / n_frames
    vframe = np.sort(rng.integers(0, n_frames, n))
    idx = np.arange(n)
    first = np.ones(n, bool)
    first[1:] = vframe[1:] != vframe[:-1]
    last = np.ones(n, bool)
    last[:-1] = first[1:]
    pos = idx - np.maximum.accumulate(np.where(first, idx, 0))
    jitter = rng.integers(0, 3_000, n_frames)
    ts = t0 + (vframe * frame_us).astype(np.int64) + jitter[vframe] + pos * 90
    ts = np.minimum(ts, t1 - 1)  # the capture ends at t1
    plen = np.where(last, rng.integers(160, RTP_FULL + 1, n), RTP_FULL)
    flags = last.astype(np.uint8) | (first.astype(np.uint8) << 1)
    return ts, plen, vframe, flags


def build_bulk(
    rng: np.random.Generator, site: Site, starts: dict[int, int], n_bulk: int, d: int
) -> tuple[Bulk, StreamTable]:
    """Spread ``n_bulk`` packets over the camera streams (TCP streams also get ACKs)."""
    cams = site.cameras
    weight = rng.lognormal(0.0, 0.35, len(cams))
    active = np.array([d - starts[c.ip] for c in cams], dtype=np.float64)
    cost = np.array([1.5 if c.tcp else 1.0 for c in cams])  # data + 1 ACK per 2 data packets
    share = weight * active
    share /= share.sum()
    n_data = np.floor(n_bulk * share / cost).astype(np.int64)
    used = int(sum(n + (n // 2 if c.tcp else 0) for n, c in zip(n_data, cams, strict=True)))
    biggest_udp = max((i for i, c in enumerate(cams) if not c.tcp), key=lambda i: n_data[i])
    n_data[biggest_udp] += n_bulk - used

    parts: dict[str, list[np.ndarray]] = {k: [] for k in Bulk.__dataclass_fields__}
    rec_isn = rng.integers(0, M32, len(cams), dtype=np.uint64).astype(np.uint32)
    for s, cam in enumerate(cams):
        n = int(n_data[s])
        if n == 0:
            continue
        ts, plen, vframe, flags = video_packets(rng, n, starts[cam.ip], d)
        seq0, rtp0 = int(rng.integers(0, 0x10000)), int(rng.integers(0, M32))
        id0 = int(rng.integers(0, 0x10000))
        if cam.restart_us is not None:  # as announced in the PLAY response's RTP-Info
            seq0, rtp0 = 1, 0
        k = np.arange(n)
        fps = max(n / max((d - starts[cam.ip]) / 1e6, 1e-3) / 6.0, 0.5)
        rtpts = (rtp0 + (vframe * (90_000 / fps)).astype(np.int64)) & M32
        if not cam.tcp:
            kind = np.full(n, K_RTP_UDP, np.uint8)
            flen = 14 + 20 + 8 + 12 + plen
            tval = np.zeros(n, np.uint32)
        else:
            kind = np.full(n, K_RTP_TCP, np.uint8)
            seglen = 4 + 12 + plen
            flen = 14 + 20 + 20 + seglen
            isn = int(rng.integers(0, M32))
            tval = ((isn + np.cumsum(seglen) - seglen) & M32).astype(np.uint32)
        cols = {
            "ts": ts,
            "kind": kind,
            "stream": np.full(n, s, np.uint16),
            "flen": flen.astype(np.int32),
            "ipid": ((id0 + k) & 0xFFFF).astype(np.uint16),
            "rtpseq": ((seq0 + k) & 0xFFFF).astype(np.uint16),
            "rtpts": rtpts.astype(np.uint32),
            "flags": flags,
            "tval": tval,
        }
        for key, val in cols.items():
            parts[key].append(val)
        if cam.tcp:  # delayed ACK from the recorder for every second segment
            acked = k[1::2]
            m = len(acked)
            ack_no = ((tval[acked].astype(np.int64) + seglen[acked]) & M32).astype(np.uint32)
            ack_id0 = rng.integers(0, 0x10000)
            acks = {
                "ts": np.minimum(ts[acked] + rng.integers(80, 400, m), d - 1),
                "kind": np.full(m, K_TCP_ACK, np.uint8),
                "stream": np.full(m, s, np.uint16),
                "flen": np.full(m, ETH_MIN, np.int32),
                "ipid": ((ack_id0 + np.arange(m)) & 0xFFFF).astype(np.uint16),
                "rtpseq": np.zeros(m, np.uint16),
                "rtpts": np.zeros(m, np.uint32),
                "flags": np.zeros(m, np.uint8),
                "tval": ack_no,
            }
            for key, val in acks.items():
                parts[key].append(val)
    bulk = Bulk(**{k: np.concatenate(parts.pop(k)) for k in list(parts)})

    def macs(values: list[bytes]) -> np.ndarray:
        return np.frombuffer(b"".join(values), np.uint8).reshape(-1, 6)

    table = StreamTable(
        cam_ip=np.array([c.ip for c in cams], np.uint32),
        rec_ip=np.array([c.recorder for c in cams], np.uint32),
        cam_mac=macs([c.mac for c in cams]),
        rec_mac=macs([site.macs[c.recorder] for c in cams]),
        cam_port=np.array([c.cam_port for c in cams], np.uint32),
        rec_port=np.array([c.rec_port for c in cams], np.uint32),
        ssrc=np.array([c.ssrc for c in cams], np.uint32),
        rec_isn=rec_isn,
    )
    return bulk, table


# Header templates (Ethernet + IPv4 + L4 + app header), patched per packet.
def _template(size: int, proto: int, ttl: int = 64) -> np.ndarray:
    row = np.zeros(size, np.uint8)
    row[12:14] = (0x08, 0x00)
    row[14], row[20], row[22], row[23] = 0x45, 0x40, ttl, proto
    return row


TPL_UDP = _template(56, 17)
TPL_UDP[42] = 0x80  # RTP v2
TPL_TCP = _template(72, 6)
TPL_TCP[46], TPL_TCP[47] = 0x50, PSH | ACK
TPL_TCP[54] = 0x24  # '$' interleaved frame, channel 0
TPL_TCP[58] = 0x80
TPL_ACK = _template(60, 6)
TPL_ACK[46], TPL_ACK[47] = 0x50, ACK


def put16(rows: np.ndarray, off: int, v: np.ndarray | int) -> None:
    """Write big-endian 16-bit values into a column pair."""
    v = np.asarray(v).astype(np.int64)
    rows[:, off] = ((v >> 8) & 0xFF).astype(np.uint8)
    rows[:, off + 1] = (v & 0xFF).astype(np.uint8)


def put32(rows: np.ndarray, off: int, v: np.ndarray | int) -> None:
    """Write big-endian 32-bit values into four columns."""
    v = np.asarray(v).astype(np.int64)
    for i in range(4):
        rows[:, off + i] = ((v >> (24 - 8 * i)) & 0xFF).astype(np.uint8)


def word_sum(rows: np.ndarray, a: int, b: int) -> np.ndarray:
    """Sum of big-endian 16-bit words of columns [a, b) (b - a even)."""
    seg = rows[:, a:b].astype(np.int64)
    return (seg[:, 0::2] << 8).sum(1) + seg[:, 1::2].sum(1)


def fold(total: np.ndarray) -> np.ndarray:
    """Internet checksum from a positive sum of 16-bit words (exact or mod 0xFFFF)."""
    return 0xFFFF - ((total - 1) % 0xFFFF + 1)


class PayloadPool:
    """Random payload bytes plus prefix sums (mod 0xFFFF) of their 16-bit words.

    Sums are kept modulo 0xFFFF, which is all the one's-complement checksum needs,
    so each prefix array takes two bytes per word. ``even`` starts words at even
    offsets, ``odd`` at odd offsets.
    """

    def __init__(self, rng: np.random.Generator, size: int) -> None:
        self.data = np.frombuffer(rng.bytes(size), np.uint8)
        padded = np.concatenate([self.data, np.zeros(2, np.uint8)])
        hi_e, lo_e = padded[0:size:2], padded[1 : size + 1 : 2]
        hi_o, lo_o = padded[1 : size + 1 : 2], padded[2 : size + 2 : 2]
        self.even = self._prefix(hi_e, lo_e)
        self.odd = self._prefix(hi_o, lo_o)

    @staticmethod
    def _prefix(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        words = (hi.astype(np.int64) << 8) | lo
        return np.concatenate([[0], np.cumsum(words) % 0xFFFF]).astype(np.uint16)

    def word_sum(self, pos: np.ndarray, length: np.ndarray) -> np.ndarray:
        """Word sum (mod 0xFFFF) of data[pos : pos + length], words starting at pos."""
        nw = length // 2
        k = pos >> 1
        even = self.even[k + nw].astype(np.int64) - self.even[k]
        odd = self.odd[k + nw].astype(np.int64) - self.odd[k]
        s = np.where((pos & 1) == 0, even, odd) % 0xFFFF
        tail = self.data[np.minimum(pos + length - 1, len(self.data) - 1)].astype(np.int64) << 8
        return s + np.where((length & 1) == 1, tail, 0)


def ip_fields(
    rows: np.ndarray,
    flen: np.ndarray,
    ipid: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    tot: np.ndarray | None = None,
) -> np.ndarray:
    """Fill IPv4 length, ID, addresses and header checksum; returns the total length."""
    tot = flen - 14 if tot is None else tot
    put16(rows, 16, tot)
    put16(rows, 18, ipid)
    put32(rows, 26, src)
    put32(rows, 30, dst)
    put16(rows, 24, fold(word_sum(rows, 14, 34)))
    return tot


def pseudo_sum(src: np.ndarray, dst: np.ndarray, proto: int, l4len: np.ndarray) -> np.ndarray:
    """Word sum of the IPv4 pseudo header."""
    src, dst = src.astype(np.int64), dst.astype(np.int64)
    return (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + proto + l4len


def bulk_rows(
    kind: int, b: Bulk, idx: np.ndarray, st: StreamTable, pool: PayloadPool, pay_pos: np.ndarray
) -> np.ndarray:
    """Header rows of bulk packets ``idx`` of one kind; ``pay_pos`` is where each
    packet's payload (after the row) lies in the pool."""
    s = b.stream[idx].astype(np.int64)
    flen = b.flen[idx].astype(np.int64)
    n = len(idx)
    if kind == K_RTP_UDP:
        rows = np.tile(TPL_UDP, (n, 1))
        src, dst = st.cam_ip[s], st.rec_ip[s]
        rows[:, 0:6], rows[:, 6:12] = st.rec_mac[s], st.cam_mac[s]
        tot = ip_fields(rows, flen, b.ipid[idx], src, dst)
        put16(rows, 34, st.cam_port[s])
        put16(rows, 36, st.rec_port[s])
        put16(rows, 38, tot - 20)
        rtp_off, l4 = 42, 17
    elif kind == K_RTP_TCP:
        rows = np.tile(TPL_TCP, (n, 1))
        src, dst = st.cam_ip[s], st.rec_ip[s]
        rows[:, 0:6], rows[:, 6:12] = st.rec_mac[s], st.cam_mac[s]
        tot = ip_fields(rows, flen, b.ipid[idx], src, dst)
        put16(rows, 34, 554)
        put16(rows, 36, st.rec_port[s])
        put32(rows, 38, b.tval[idx])
        put32(rows, 42, st.rec_isn[s])
        put16(rows, 48, 0x7210)
        put16(rows, 56, flen - 58)
        rtp_off, l4 = 58, 6
    else:
        rows = np.tile(TPL_ACK, (n, 1))
        src, dst = st.rec_ip[s], st.cam_ip[s]
        rows[:, 0:6], rows[:, 6:12] = st.cam_mac[s], st.rec_mac[s]
        tot = ip_fields(rows, flen, b.ipid[idx], src, dst, tot=np.full(n, 40))
        put16(rows, 34, st.rec_port[s])
        put16(rows, 36, 554)
        put32(rows, 38, st.rec_isn[s])
        put32(rows, 42, b.tval[idx])
        put16(rows, 48, 0x1F5)
        total = pseudo_sum(src, dst, 6, tot - 20) + word_sum(rows, 34, 54)
        put16(rows, 50, fold(total))
        return rows
    flags = b.flags[idx]
    last, first = (flags & 1).astype(bool), (flags & 2).astype(bool)
    rows[:, rtp_off + 1] = (96 | (last.astype(np.uint8) << 7)).astype(np.uint8)
    put16(rows, rtp_off + 2, b.rtpseq[idx])
    put32(rows, rtp_off + 4, b.rtpts[idx])
    put32(rows, rtp_off + 8, st.ssrc[s])
    # H.264: FU-A (indicator 0x7c, header S/E bits), or a single NAL unit for 1-packet frames.
    single = first & last
    rows[:, rtp_off + 12] = np.where(single, 0x41, 0x7C).astype(np.uint8)
    fu = np.where(first, 0x85, np.where(last, 0x41, 0x01))
    rows[:, rtp_off + 13] = np.where(single, 0x9A, fu).astype(np.uint8)
    hdr_end = rows.shape[1]
    total = pseudo_sum(src, dst, l4, tot - 20) + word_sum(rows, 34, hdr_end)
    total += pool.word_sum(pay_pos, flen - hdr_end)
    csum = fold(total)
    if kind == K_RTP_UDP:
        put16(rows, 40, np.where(csum == 0, 0xFFFF, csum))
    else:
        put16(rows, 50, csum)
    return rows


def scatter(buf: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> None:
    """Write equal-length ``rows`` into ``buf`` at ``offsets``."""
    buf[offsets[:, None] + np.arange(rows.shape[1])] = rows


def segment_copy(
    dst: np.ndarray, dst_off: np.ndarray, src: np.ndarray, src_off: np.ndarray, lens: np.ndarray
) -> None:
    """Copy variable-length segments src[src_off:+len] to dst[dst_off:+len]."""
    total = int(lens.sum())
    if total == 0:
        return
    inner = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
    dst[np.repeat(dst_off, lens) + inner] = src[np.repeat(src_off, lens) + inner]


# ----------------------------------------------------------------------------
# Writer
# ----------------------------------------------------------------------------


def write_pcap(
    path: Path,
    rng: np.random.Generator,
    bulk: Bulk,
    table: StreamTable,
    em: Emitter,
) -> int:
    """Merge bulk and special packets in time order and write them; returns bytes written."""
    nb = len(bulk.ts)
    s_ts = np.array(em.times, np.int64)
    s_len = np.array([len(f) for f in em.frames], np.int64)
    s_off = np.cumsum(s_len) - s_len
    blob = np.frombuffer(b"".join(em.frames), np.uint8)
    em.frames.clear()  # the blob holds them now
    all_ts = np.concatenate([bulk.ts, s_ts])
    order = np.argsort(all_ts, kind="stable")
    flen_all = np.concatenate([bulk.flen.astype(np.int64), s_len])[order]
    cum = np.cumsum(flen_all + 16)
    bounds = np.searchsorted(cum, np.arange(CHUNK_BYTES, int(cum[-1]), CHUNK_BYTES))
    bounds = np.unique(np.concatenate([[0], bounds, [len(order)]]))
    pool = PayloadPool(rng, POOL_BYTES)
    written = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))
        written += 24
        for a, z in itertools.pairwise(bounds):
            sel = order[a:z]
            flen = flen_all[a:z]
            rec = flen + 16
            off = np.cumsum(rec) - rec
            total = int(rec.sum())
            start = int(rng.integers(0, POOL_BYTES - total))
            buf = pool.data[start : start + total].copy()
            ts = all_ts[sel]
            hdr = np.empty((len(sel), 4), "<u4")
            hdr[:, 0] = EPOCH_S + ts // 1_000_000
            hdr[:, 1] = ts % 1_000_000
            hdr[:, 2] = flen
            hdr[:, 3] = flen
            scatter(buf, off, hdr.view(np.uint8))
            is_b = sel < nb
            bi, boff = sel[is_b], off[is_b] + 16
            kinds = bulk.kind[bi]
            for kind in (K_RTP_UDP, K_RTP_TCP, K_TCP_ACK):
                m = kinds == kind
                if not m.any():
                    continue
                width = {K_RTP_UDP: 56, K_RTP_TCP: 72, K_TCP_ACK: 60}[kind]
                rows = bulk_rows(kind, bulk, bi[m], table, pool, start + boff[m] + width)
                scatter(buf, boff[m], rows)
            si = sel[~is_b] - nb
            segment_copy(buf, off[~is_b] + 16, blob, s_off[si], s_len[si])
            buf.tofile(f)
            written += total
    os.replace(tmp, path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000, help="number of packets")
    ap.add_argument("--out", type=Path, default=Path("bench/data/cctv-1m.pcap"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--duration",
        type=float,
        default=None,
        help=f"capture seconds (default {SECONDS_PER_MILLION:g} per million packets)",
    )
    args = ap.parse_args(argv)
    if args.packets < 10_000:
        ap.error("--packets must be at least 10000")
    t_start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    duration_s = args.duration or SECONDS_PER_MILLION * args.packets / 1e6
    d = int(duration_s * 1e6)

    site = build_site(rng, d)
    em = Emitter(rng, site)
    sc = Scenario(em, site, d)
    sc.run()
    em.clip(d)  # the capture ends at d: conversations running on are cut off
    n_special = len(em.frames)
    n_bulk = args.packets - n_special
    if n_bulk < args.packets // 2:
        ap.error(f"{n_special} control packets leave too little room: raise --packets")
    bulk, table = build_bulk(rng, site, sc.stream_start, n_bulk, d)
    t_built = time.perf_counter()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    size = write_pcap(args.out, rng, bulk, table, em)
    n = len(bulk.ts) + n_special
    Path(str(args.out) + ".count").write_text(f"{n}\n")
    elapsed = time.perf_counter() - t_start

    mix: Counter[str] = Counter()
    for kind, name in BULK_NAMES.items():
        mix[name] = int((bulk.kind == kind).sum())
    mix.update(em.cats)
    print(f"wrote {args.out}: {n:,} packets, {size:,} bytes ({size / 2**20:,.1f} MiB)")
    print(f"capture time {duration_s:,.0f} s, {n / duration_s:,.0f} packets/s")
    print(f"generated in {elapsed:.1f} s (schedule {t_built - t_start:.1f} s)")
    print("mix:")
    for name, count in mix.most_common():
        print(f"  {name:<40} {count:>10,}  {100 * count / n:6.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
