"""The closed segment of demo-hansaplatz and its normal traffic (nothing here is a finding).

Hosts match ``pcaps/site.yaml``. Each function emits into a ``Capture`` starting at ``t``
(seconds from the capture start) and returns any flow it made.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import payloads as pl
from scapy.layers.dns import DNS
from scapy.layers.l2 import ARP, Ether
from wire import GATEWAY_MAC, START_US, Capture, Flow, Host, TcpSession, group, us

NVR = Host("10.20.0.2", "24:48:45:3a:10:02")  # Hikvision NVR DS-7616NI-K2
GW = Host("10.20.0.1", GATEWAY_MAC)  # router, DHCP server, UPnP IGD, NAT-PMP
RESOLVER = Host("10.20.0.53", "0a:20:00:00:00:53")
NTP_SERVER = Host("10.20.0.123", "0a:20:00:00:01:23")
BCAST = group("255.255.255.255")
SSDP_GROUP = group("239.255.255.250")  # SSDP, WS-Discovery, SADP
DHIP_GROUP = group("239.255.255.251")
MDNS_GROUP = group("224.0.0.251")


@dataclass(frozen=True)
class Camera:
    host: Host
    name: str
    vendor: str
    model: str
    serial: str
    firmware: str
    rtsp_path: str
    server: str

    @property
    def ip(self) -> str:
        return self.host.ip


def _cam(n: int, mac: str, *info: str) -> Camera:
    return Camera(Host(f"10.20.1.{n}", mac), f"cam-hansa-{n - 10:02d}", *info)


HIK = "/Streaming/Channels/101"
DAHUA = "/cam/realmonitor?channel=1&subtype=0"
CAMS = {
    11: _cam(
        11,
        "44:19:b6:3c:5e:11",
        "hikvision",
        "DS-2CD2143G2-I",
        "DS-2CD2143G2-I20230815AAWRK12345611",
        "V5.7.3 build 220112",
        HIK,
        "Hikvision-Webs",
    ),
    12: _cam(
        12,
        "bc:ad:28:71:9a:12",
        "hikvision",
        "DS-2DE4425IW-DE",
        "DS-2DE4425IW-DE20221103CCWRL87654312",
        "V5.7.15 build 230314",
        HIK,
        "Hikvision-Webs",
    ),
    13: _cam(
        13,
        "3c:ef:8c:20:4d:13",
        "dahua",
        "IPC-HFW2431S-S-S2",
        "7J0A1B2PAZ3C413",
        "2.800.0000000.28.R",
        DAHUA,
        "Dahua Rtsp Server/3.0",
    ),
    14: _cam(
        14,
        "00:40:8c:1a:2b:14",
        "axis",
        "P3245-V",
        "00408C1A2B14",
        "10.12.182",
        "/axis-media/media.amp",
        "GStreamer RTSP server",
    ),
    15: _cam(
        15,
        "38:54:f5:6e:01:15",
        "xiongmai",
        "IPG-53H20PL-S",
        "9a1c0e7d5b3f2a15",
        "V4.02.R11.00035520.10010.140300",
        "/user=admin_password=_channel=1_stream=0.sdp",
        "H264DVR 1.0",
    ),
    16: _cam(
        16,
        "e0:50:8b:55:c7:16",
        "dahua",
        "IPC-HDW3541T-ZAS",
        "8C0B2D4PAG5E616",
        "2.840.0000000.16.R",
        DAHUA,
        "Dahua Rtsp Server/3.0",
    ),
}
STREAMING = (11, 12, 13, 14)
# RTP payloads are slices of one random block (FU-A header first): the .gz stays small.
VIDEO = bytes([0x7C, 0x85]) + random.Random("video").randbytes(4094)


# --- generic exchanges ----------------------------------------------------------------------


def udp_exchange(
    cap: Capture,
    t: float,
    cli: Host,
    srv: Host,
    dport: int,
    messages: list[tuple[bool, bytes]],
    gap: float = 0.002,
    sport: int | None = None,
    iface: int = 0,
) -> Flow:
    """Datagrams on one 5-tuple; each message is (from_client, payload)."""
    flow, sport = Flow(), sport or cap.port()
    for i, (from_cli, data) in enumerate(messages):
        src, dst, sp, dp = (cli, srv, sport, dport) if from_cli else (srv, cli, dport, sport)
        cap.udp(t + i * gap, src, dst, sp, dp, data, flow, iface)
    return flow


def dns_lookup(
    cap: Capture,
    t: float,
    cli: Host,
    resolver: Host,
    query: DNS,
    answer: DNS | None,
    rtt: float = 0.0008,
    iface: int = 0,
) -> Flow:
    msgs = [(True, query)] + ([(False, answer)] if answer is not None else [])
    return udp_exchange(cap, t, cli, resolver, 53, msgs, rtt, iface=iface)


def internal_dns(
    cap: Capture, t: float, cli: Host, name: str, address: str, iface: int = 0
) -> Flow:
    qid = cap.rng.randrange(65536)
    answer = pl.dns_answer(qid, name, [(name, "A", address, 3600)])
    return dns_lookup(cap, t, cli, RESOLVER, pl.dns_query(qid, name), answer, iface=iface)


def ntp_sync(cap: Capture, t: float, cli: Host, iface: int = 0) -> Flow:
    sent = START_US + us(t)
    msgs = [(True, pl.ntp_request(sent)), (False, pl.ntp_reply(sent, sent + 600))]
    return udp_exchange(cap, t, cli, NTP_SERVER, 123, msgs, 0.0006, sport=123, iface=iface)


def arp(cap: Capture, t: float, asker: Host, target: Host, iface: int = 0) -> None:
    who = ARP(op=1, hwsrc=asker.mac, psrc=asker.ip, pdst=target.ip)
    cap.emit_l2(t, Ether(src=asker.mac, dst=BCAST.mac), who, iface=iface)
    answer = ARP(op=2, hwsrc=target.mac, psrc=target.ip, hwdst=asker.mac, pdst=asker.ip)
    cap.emit_l2(t + 0.0004, Ether(src=target.mac, dst=asker.mac), answer, iface=iface)


# --- video: RTSP control and RTP/RTCP --------------------------------------------------------


def _rtsp(method: str, url: str, cseq: int, extra: list[tuple[str, str]]) -> bytes:
    ua = [("User-Agent", "NVR RTSP Client/1.0")]
    return pl.http(f"{method} {url} RTSP/1.0", [("CSeq", str(cseq)), *extra, *ua])


def _ok(
    cam: Camera, cseq: int, extra: list[tuple[str, str]], body: str = "", status: str = "200 OK"
) -> bytes:
    date = ("Date", "Mon, Mar 02 2026 08:00:07 GMT")
    return pl.http(
        f"RTSP/1.0 {status}", [("CSeq", str(cseq)), *extra, date, ("Server", cam.server)], body
    )


def _sdp(cam: Camera) -> str:
    lines = [
        "v=0",
        f"o=- 1772438407 1 IN IP4 {cam.ip}",
        "s=Media Presentation",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=control:*",
        "m=video 0 RTP/AVP 96",
        "a=rtpmap:96 H264/90000",
        "a=fmtp:96 profile-level-id=4d002a; packetization-mode=1",
        "a=control:trackID=1",
    ]
    return "\r\n".join(lines) + "\r\n"


def rtsp_session(cap: Capture, t: float, cam: Camera) -> tuple[int, int, float]:
    """NVR pulls the stream: OPTIONS, DESCRIBE (Digest 401 on Hikvision), SETUP, PLAY.

    Returns (client RTP port, server RTP port, time PLAY was answered).
    """
    s = TcpSession(cap, NVR, cam.host, 554, t, rtt=0.0006)
    s.handshake()
    url, cport, sport = (
        f"rtsp://{cam.ip}:554{cam.rtsp_path}",
        cap.port(pair=True),
        8200 + 2 * (int(cam.ip.rsplit(".", 1)[1]) % 50),
    )
    public = ("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER")
    s.exchange(_rtsp("OPTIONS", url, 1, []), _ok(cam, 1, [public]))
    accept = ("Accept", "application/sdp")
    auth: list[tuple[str, str]] = []
    if cam.vendor == "hikvision":
        nonce = cap.rng.randbytes(16).hex()
        challenge = (
            "WWW-Authenticate",
            f'Digest realm="Hikvision", nonce="{nonce}", stale="FALSE"',
        )
        s.wait(0.01).exchange(
            _rtsp("DESCRIBE", url, 2, [accept]), _ok(cam, 2, [challenge], status="401 Unauthorized")
        )
        auth = [
            (
                "Authorization",
                f'Digest username="nvr", realm="Hikvision", nonce="{nonce}", '
                f'uri="{url}", response="{cap.rng.randbytes(16).hex()}"',
            )
        ]
    base = [("Content-Base", url + "/"), ("Content-Type", "application/sdp")]
    s.wait(0.01).exchange(_rtsp("DESCRIBE", url, 3, [accept, *auth]), _ok(cam, 3, base, _sdp(cam)))
    session = str(cap.rng.randrange(10**8, 10**9))
    transport = f"RTP/AVP;unicast;client_port={cport}-{cport + 1}"
    reply = f"{transport};server_port={sport}-{sport + 1};ssrc={cap.rng.getrandbits(32):08x}"
    s.wait(0.01).exchange(
        _rtsp("SETUP", url + "/trackID=1", 4, [("Transport", transport), *auth]),
        _ok(cam, 4, [("Session", session + ";timeout=60"), ("Transport", reply)]),
    )
    play = [("Session", session), ("Range", "npt=0.000-"), *auth]
    info = ("RTP-Info", f"url={url}/trackID=1;seq=1;rtptime=0")
    s.wait(0.01).exchange(_rtsp("PLAY", url, 5, play), _ok(cam, 5, [("Session", session), info]))
    return cport, sport, s.t


def rtp_stream(
    cap: Capture,
    start: float,
    end: float,
    cam: Camera,
    count: int,
    ports: tuple[int, int] | None = None,
    iface: int = 0,
) -> None:
    """``count`` RTP packets camera -> NVR, with an RTCP SR/RR pair every 5 seconds."""
    rng = cap.rng
    cport, sport = ports or (cap.port(pair=True), 8200 + 2 * rng.randrange(50))
    ssrc, seq, octets = rng.getrandbits(32), rng.randrange(65536), 0
    step = (end - start) / count
    for i in range(count):
        t = start + i * step
        size = 1400 if rng.random() < 0.4 else rng.randint(160, 1000)
        octets += size
        rtp_ts = int(t * 90000)
        at = rng.randrange(len(VIDEO) - size)
        cap.udp(
            t,
            cam.host,
            NVR,
            sport,
            cport,
            pl.rtp(seq + i, rtp_ts, ssrc, VIDEO[at : at + size], size < 1400),
            iface=iface,
        )
        if i and i % max(1, int(5 / step)) == 0:
            sr = pl.rtcp_sr(ssrc, START_US + us(t), rtp_ts, i, octets)
            cap.udp(t + 0.0002, cam.host, NVR, sport + 1, cport + 1, sr, iface=iface)
            rr = pl.rtcp_rr(ssrc ^ 0x5A5A5A5A, ssrc, seq + i)
            cap.udp(t + 0.001, NVR, cam.host, cport + 1, sport + 1, rr, iface=iface)


# --- compositions -----------------------------------------------------------------------------


def background(
    cap: Capture, t: float, duration: float, rtp_packets: int = 30, iface: int = 0
) -> None:
    """Normal chatter under a scenario: two streams mid-flight, internal DNS and NTP, ARP."""
    arp(cap, t + 0.2, NVR, CAMS[14].host, iface)
    for n in (13, 14):
        rtp_stream(cap, t + 0.1 * n - 1.0, t + duration - 0.5, CAMS[n], rtp_packets, iface=iface)
    internal_dns(cap, t + 1.5, CAMS[16].host, "nvr.cctv.local", NVR.ip, iface)
    ntp_sync(cap, t + 2.5, CAMS[16].host, iface)
