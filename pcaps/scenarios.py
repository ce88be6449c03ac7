"""One function per sample capture. Each emits into a ``Capture`` from ``t0`` on, registers
the findings its traffic means under ``pcaps/site.yaml`` (CONTRACT §3), and returns its end.

Outside hosts use documentation ranges only (RFC 5737, RFC 3849).
"""

from __future__ import annotations

import discovery
import inventory
import lan
import payloads as pl
from lan import CAMS, GW, NVR, RESOLVER, SSDP_GROUP, background, dns_lookup, udp_exchange
from scapy.layers import inet6
from wire import GATEWAY_MAC, Capture, Flow, Host, TcpSession, group, outside


def expect(
    cap: Capture,
    flow: Flow,
    kind: str,
    device: Host,
    peer: Host,
    peer_port: int,
    proto: str,
    answered: bool,
    peer_name: str | None = None,
    vendor: str | None = None,
    query_name: str | None = None,
) -> None:
    cap.expect(
        flow,
        kind=kind,
        device=device.ip,
        peer=peer.ip,
        peer_port=peer_port,
        proto=proto,
        peer_name=peer_name,
        query_name=query_name,
        vendor=vendor,
        answered=answered,
    )


def tls_flow(
    cap: Capture,
    t: float,
    cli: Host,
    srv: Host,
    port: int,
    sni: str | None,
    rtt: float,
    split: int | None = None,
    vlan: int | None = None,
    alpn: str = "http/1.1",
    iface: int = 0,
) -> Flow:
    """Handshake, ClientHello (optionally in two segments), server flight, data, FIN."""
    rng = cap.rng
    s = TcpSession(cap, cli, srv, port, t, rtt=rtt, iface=iface)
    s.handshake(vlan=vlan)
    hello = pl.tls_client_first(rng, sni, alpn)
    s.send(True, hello, acked=False, chunks=[split, len(hello) - split] if split else None)
    s.wait(rtt + 0.004).send(False, pl.tls_server_flight(rng))
    s.wait(0.003).send(True, pl.tls_client_finish(rng) + pl.tls_app(rng, 420), acked=False)
    s.wait(rtt + 0.012).send(False, pl.tls_app(rng, 980))
    s.wait(0.4).close()
    return s.flow


# --- 1. clean -----------------------------------------------------------------------------------


def clean(cap: Capture, t0: float, rtp: int = 150) -> float:
    streaming = [CAMS[n] for n in lan.STREAMING]
    for i, cam in enumerate(streaming):
        lan.arp(cap, t0 + 0.1 + 0.01 * i, NVR, cam.host)
    lan.arp(cap, t0 + 0.3, CAMS[11].host, GW)
    discovery.dhcp_dora(cap, t0 + 0.5, CAMS[14])
    discovery.mdns_axis(cap, t0 + 1.0, CAMS[14])
    discovery.ssdp_notify(cap, t0 + 1.5, CAMS[14])
    discovery.ws_discovery(cap, t0 + 2.0, streaming)
    discovery.sadp(cap, t0 + 3.0, [CAMS[11], CAMS[12]])
    discovery.dhip_search(cap, t0 + 3.5, [CAMS[13]])
    for i, cam in enumerate(streaming):
        lan.internal_dns(cap, t0 + 4.0 + 0.2 * i, cam.host, "nvr.cctv.local", NVR.ip)
        lan.ntp_sync(cap, t0 + 5.0 + 0.3 * i, cam.host)
    for i, cam in enumerate(streaming):
        cport, sport, played = lan.rtsp_session(cap, t0 + 6.0 + 0.5 * i, cam)
        lan.rtp_stream(cap, played + 0.01, t0 + 59.0, cam, rtp, ports=(cport, sport))
    lan.internal_dns(cap, t0 + 30.0, CAMS[12].host, "ntp.cctv.local", "10.20.0.123")
    lan.ntp_sync(cap, t0 + 35.0, CAMS[11].host)
    inventory.workstation(cap, t0 + 40.0)
    inventory.expect_devices(cap)
    return t0 + 60.0


# --- 2. egress ----------------------------------------------------------------------------------


def egress(cap: Capture, t0: float, rtp: int = 30) -> float:
    background(cap, t0, 20.0, rtp)
    cam, srv = CAMS[11].host, outside("198.51.100.7", 49)
    flow = tls_flow(cap, t0 + 3.0, cam, srv, 443, None, rtt=0.034, vlan=20)
    expect(cap, flow, "egress", cam, srv, 443, "tcp", answered=True)

    cam, srv = CAMS[12].host, outside("203.0.113.9")
    flow = TcpSession(cap, cam, srv, 8000, t0 + 6.0).syn_retries().flow
    expect(cap, flow, "egress", cam, srv, 8000, "tcp", answered=False)

    cam, srv = CAMS[13].host, outside("192.0.2.33")
    beacon = b"\x00\x01\x00\x30SN=" + CAMS[13].serial.encode() + b";seq=1;uptime=86400"
    flow = udp_exchange(cap, t0 + 9.0, cam, srv, 9999, [(True, beacon)])
    expect(cap, flow, "egress", cam, srv, 9999, "udp", answered=False)
    return t0 + 20.0


# --- 3. vendor_cloud ----------------------------------------------------------------------------


def _dahua_p2p(cap: Capture) -> list[tuple[bool, bytes]]:
    rng, nonce = cap.rng, cap.rng.randrange(2**31)
    digest = rng.randbytes(20).hex()
    probe = pl.http(
        "DHGET /probe/p2psrv HTTP/1.1",
        [
            ("CSeq", "1"),
            ("Authorization", 'WSSE profile="UsernameToken"'),
            (
                "X-WSSE",
                f'UsernameToken Username="P2PClient", PasswordDigest="{digest}", '
                f'Nonce="{nonce}", Created="2026-03-02T08:00:41Z"',
            ),
        ],
    )
    body = "<body><US>192.0.2.81:8800</US><EU>192.0.2.82:8800</EU></body>"
    reply = pl.http("HTTP/1.1 200 OK", [("CSeq", "1")], body)
    p2p = [(i % 2 == 0, pl.dahua_p2p_probe(rng)) for i in range(4)]
    return [(True, probe), (False, reply), *p2p]


def _xmeye(cap: Capture, t: float, cam: Host, srv: Host) -> Flow:
    s = TcpSession(cap, cam, srv, 8086, t, rtt=0.19)
    s.handshake()
    body = (
        '{"Name":"MSG_XM_DNS_MULTIQUERY_REQ","MsgBody":{"DomainName":'
        '["access-dss.secu100.net","pub-dss-hls.secu100.net"],"SerialNumber":"'
        + CAMS[15].serial
        + '"}}'
    )
    req = pl.http(
        "POST / HTTP/1.1",
        [
            ("Host", "pub-cfg.secu100.net"),
            ("User-Agent", "XAPP"),
            ("Content-Type", "application/json"),
        ],
        body,
    )
    answer = (
        '{"Name":"MSG_XM_DNS_MULTIQUERY_RSP","Ret":100,"MsgBody":{"Result":['
        '{"DomainName":"access-dss.secu100.net","IP":"198.51.100.91","Port":6610}]}}'
    )
    resp = pl.http(
        "HTTP/1.1 200 OK",
        [("Server", "nginx"), ("Content-Type", "application/json"), ("Connection", "close")],
        answer,
    )
    s.exchange(req, resp, think=0.02)
    return s.wait(0.001).close(from_cli=False).flow


def _quic(cap: Capture, t: float, cam: Host, srv: Host, sni: str) -> Flow:
    """QUIC v1: client Initial (ClientHello, SNI), server Initial (ACK, ServerHello), 1-RTT."""
    rng = cap.rng
    dcid, cscid, sscid = rng.randbytes(8), rng.randbytes(8), rng.randbytes(8)
    hello = pl.client_hello(rng, sni, ("h3",), quic_scid=cscid)
    shello = pl.server_hello(rng, quic=True)
    msgs = [
        (True, pl.quic_initial(dcid, cscid, 0, pl.quic_crypto_frame(hello), dcid, False)),
        (
            False,
            pl.quic_initial(
                cscid, sscid, 0, pl.quic_ack_frame(0) + pl.quic_crypto_frame(shello), dcid, True
            ),
        ),
        (True, pl.quic_initial(sscid, cscid, 1, pl.quic_ack_frame(0), dcid, False)),
        (True, pl.quic_short(rng, sscid, 87)),
        (False, pl.quic_short(rng, cscid, 1180)),
        (False, pl.quic_short(rng, cscid, 412)),
        (True, pl.quic_short(rng, sscid, 41)),
    ]
    return udp_exchange(cap, t, cam, srv, 443, msgs, gap=0.028)


def vendor_cloud(cap: Capture, t0: float, rtp: int = 30) -> float:
    background(cap, t0, 25.0, rtp)
    hik = "hikvision"
    # (a) DNS answer (CNAME chain) names the address; the TLS that follows carries no SNI.
    cam, name, cname, addr = (
        CAMS[11].host,
        "litedev.hik-connect.com",
        "hc-eu-lb.example.net",
        "203.0.113.50",
    )
    qid = cap.rng.randrange(65536)
    answer = pl.dns_answer(qid, name, [(name, "CNAME", cname, 300), (cname, "A", addr, 60)])
    flow = dns_lookup(cap, t0 + 2.0, cam, RESOLVER, pl.dns_query(qid, name), answer, rtt=0.021)
    expect(cap, flow, "vendor_lookup", cam, RESOLVER, 53, "udp", True, None, hik, name)
    srv = outside(addr, 47)
    flow = tls_flow(cap, t0 + 2.05, cam, srv, 443, None, rtt=0.041)
    expect(cap, flow, "vendor_cloud", cam, srv, 443, "tcp", True, name, hik)
    # (b) SNI only, ClientHello split over two TCP segments (SNI in the second).
    cam, srv, sni = CAMS[12].host, outside("198.51.100.60", 50), "eucas.ezvizlife.com"
    flow = tls_flow(cap, t0 + 6.0, cam, srv, 6500, sni, rtt=0.028, split=60)
    expect(cap, flow, "vendor_cloud", cam, srv, 6500, "tcp", True, sni, hik)
    # (c) Dahua P2P rendezvous: DHGET text and 44-byte ff fe ff e7 datagrams on UDP 8800.
    cam, srv = CAMS[13].host, outside("192.0.2.80", 44)
    flow = udp_exchange(cap, t0 + 10.0, cam, srv, 8800, _dahua_p2p(cap), gap=0.17)
    expect(cap, flow, "vendor_cloud", cam, srv, 8800, "udp", True, None, "dahua")
    # (d) XMEye config service: HTTP Host and User-Agent XAPP.
    cam, srv = CAMS[15].host, outside("198.51.100.90", 45)
    flow = _xmeye(cap, t0 + 14.0, cam, srv)
    expect(
        cap, flow, "vendor_cloud", cam, srv, 8086, "tcp", True, "pub-cfg.secu100.net", "xiongmai"
    )
    # (e) QUIC v1 Initial with SNI.
    cam, srv, sni = CAMS[12].host, outside("203.0.113.77", 51), "api.ezvizlife.com"
    flow = _quic(cap, t0 + 18.0, cam, srv, sni)
    expect(cap, flow, "vendor_cloud", cam, srv, 443, "udp", True, sni, hik)
    return t0 + 25.0


# --- 4. vendor_lookup ---------------------------------------------------------------------------


def vendor_lookup(cap: Capture, t0: float, rtp: int = 30) -> float:
    background(cap, t0, 15.0, rtp)
    cam, name = CAMS[11].host, "dev.hik-connect.com"
    qid = cap.rng.randrange(65536)
    nx = pl.dns_nxdomain(qid, name, "hik-connect.com")
    flow = dns_lookup(cap, t0 + 2.0, cam, RESOLVER, pl.dns_query(qid, name), nx, rtt=0.035)
    expect(cap, flow, "vendor_lookup", cam, RESOLVER, 53, "udp", True, None, "hikvision", name)
    cam, name = CAMS[13].host, "www.easy4ipcloud.com"
    query = pl.dns_query(cap.rng.randrange(65536), name)
    flow = dns_lookup(cap, t0 + 5.0, cam, RESOLVER, query, None)
    expect(cap, flow, "vendor_lookup", cam, RESOLVER, 53, "udp", False, None, "dahua", name)
    return t0 + 15.0


# --- 5. external_resolver -------------------------------------------------------------------------


def external_resolver(cap: Capture, t0: float, rtp: int = 30) -> float:
    background(cap, t0, 20.0, rtp)
    rng, kind = cap.rng, "external_resolver"
    # UDP 53 to an outside resolver; it does not know the internal name.
    cam, srv, name = CAMS[15].host, outside("192.0.2.53", 55), "nvr.cctv.local"
    qid = rng.randrange(65536)
    nx = pl.dns_nxdomain(qid, name, ".")
    flow = dns_lookup(cap, t0 + 2.0, cam, srv, pl.dns_query(qid, name), nx, rtt=0.018)
    expect(cap, flow, kind, cam, srv, 53, "udp", True, query_name=name)
    # DNS over TCP 53.
    cam, srv, name = CAMS[16].host, outside("198.51.100.53", 56), "ntp.example.com"
    qid = rng.randrange(65536)
    s = TcpSession(cap, cam, srv, 53, t0 + 5.0, rtt=0.022).handshake()
    answer = pl.dns_answer(qid, name, [(name, "A", "192.0.2.123", 300)])
    s.exchange(pl.dns_tcp(pl.dns_query(qid, name)), pl.dns_tcp(answer), think=0.001)
    flow = s.close().flow
    expect(cap, flow, kind, cam, srv, 53, "tcp", True, query_name=name)
    # DNS over TLS (853) with SNI.
    cam, srv, sni = CAMS[12].host, outside("203.0.113.53", 57), "dns.example.net"
    flow = tls_flow(cap, t0 + 8.0, cam, srv, 853, sni, rtt=0.026, alpn="dot")
    expect(cap, flow, kind, cam, srv, 853, "tcp", True, sni)
    # Inside, but not a listed resolver.
    cam, srv, name = CAMS[13].host, Host("10.20.0.54", "0a:20:00:00:00:54"), "nvr.cctv.local"
    qid = rng.randrange(65536)
    answer = pl.dns_answer(qid, name, [(name, "A", NVR.ip, 600)])
    flow = dns_lookup(cap, t0 + 11.0, cam, srv, pl.dns_query(qid, name), answer)
    expect(cap, flow, kind, cam, srv, 53, "udp", True, query_name=name)
    return t0 + 20.0


# --- 6. upnp_port_mapping ---------------------------------------------------------------------


def upnp_port_mapping(cap: Capture, t0: float, rtp: int = 30) -> float:
    background(cap, t0, 20.0, rtp)
    cam, host = CAMS[11].host, f"{GW.ip}:49152"
    search = pl.http(
        "M-SEARCH * HTTP/1.1",
        [
            ("HOST", "239.255.255.250:1900"),
            ("ST", discovery.WANIP),
            ("MAN", '"ssdp:discover"'),
            ("MX", "2"),
        ],
    )
    found = pl.http(
        "HTTP/1.1 200 OK",
        [
            ("CACHE-CONTROL", "max-age=120"),
            ("ST", discovery.WANIP),
            ("EXT", ""),
            ("USN", f"uuid:6b1d2c3e-0000-4000-8000-0a2000000001::{discovery.WANIP}"),
            ("SERVER", "Linux/5.4 UPnP/1.1 MiniUPnPd/2.3.3"),
            ("LOCATION", f"http://{host}/rootDesc.xml"),
        ],
    )
    sport = cap.port()
    for k in range(2):
        cap.udp(t0 + 2.0 + 0.1 * k, cam, SSDP_GROUP, sport, 1900, search)
    cap.udp(t0 + 2.4, GW, cam, 1900, sport, found)
    ua = ("User-Agent", "Linux/3.18.20, UPnP/1.0, Portable SDK for UPnP devices/1.6.22")
    s = TcpSession(cap, cam, GW, 49152, t0 + 2.6, rtt=0.0007).handshake()
    s.exchange(
        pl.http("GET /rootDesc.xml HTTP/1.1", [("Host", host), ua]),
        pl.http(
            "HTTP/1.1 200 OK",
            [("Content-Type", 'text/xml; charset="utf-8"'), ("Connection", "close")],
            discovery.IGD_DESC,
        ),
    )
    s.close(from_cli=False)
    args = (
        "<NewRemoteHost></NewRemoteHost><NewExternalPort>8000</NewExternalPort><NewProtocol>"
        "TCP</NewProtocol><NewInternalPort>8000</NewInternalPort><NewInternalClient>"
        f"{cam.ip}</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>"
        f"HIKVISION {cam.ip}:8000 TCP</NewPortMappingDescription><NewLeaseDuration>0"
        "</NewLeaseDuration>"
    )
    post = pl.http(
        "POST /ctl/IPConn HTTP/1.1",
        [
            ("Host", host),
            ua,
            ("Content-Type", 'text/xml; charset="utf-8"'),
            ("SOAPAction", f'"{discovery.WANIP}#AddPortMapping"'),
        ],
        discovery.soap("AddPortMapping", args),
    )
    ok = pl.http(
        "HTTP/1.1 200 OK",
        [("Content-Type", 'text/xml; charset="utf-8"'), ("Connection", "close"), ("EXT", "")],
        discovery.soap("AddPortMappingResponse", ""),
    )
    s = TcpSession(cap, cam, GW, 49152, t0 + 2.9, rtt=0.0007).handshake()
    flow = s.exchange(post, ok, think=0.004).close(from_cli=False).flow
    expect(cap, flow, "upnp_port_mapping", cam, GW, 49152, "tcp", True)
    # NAT-PMP (RFC 6886) map-TCP request from a Dahua camera.
    cam = CAMS[13].host
    msgs = [
        (True, pl.natpmp_map_request(37777, 37777, 7200)),
        (False, pl.natpmp_map_response(86400, 37777, 37777, 7200)),
    ]
    flow = udp_exchange(cap, t0 + 6.0, cam, GW, 5351, msgs, gap=0.0009)
    expect(cap, flow, "upnp_port_mapping", cam, GW, 5351, "udp", True)
    return t0 + 20.0


# --- 7. inbound -------------------------------------------------------------------------------


def inbound(cap: Capture, t0: float, rtp: int = 30) -> float:
    background(cap, t0, 15.0, rtp)
    cam, peer = CAMS[11], outside("198.51.100.200", 47)
    s = TcpSession(cap, peer, cam.host, 554, t0 + 3.0, rtt=0.052).handshake()
    url = f"rtsp://{cam.ip}:554/"
    s.exchange(
        pl.http(f"OPTIONS {url} RTSP/1.0", [("CSeq", "1")]),
        pl.http(
            "RTSP/1.0 200 OK",
            [
                ("CSeq", "1"),
                ("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER"),
                ("Server", cam.server),
            ],
        ),
    )
    flow = s.close().flow
    expect(cap, flow, "inbound", cam.host, peer, 554, "tcp", True)
    cam_host, peer = CAMS[12].host, outside("203.0.113.5", 113)
    flow = TcpSession(cap, peer, cam_host, 80, t0 + 7.0, rtt=0.08).refuse().flow
    expect(cap, flow, "inbound", cam_host, peer, 80, "tcp", False)
    return t0 + 15.0


# --- 8. IPv6 on a second interface ----------------------------------------------------------------

CAM6 = Host("fd20::11", "4c:bd:8f:09:a1:07")  # cam-hansa-07, Hikvision, IPv6 only
ROUTER6 = Host("fd20::1", GATEWAY_MAC, 255)
ROUTER_LL = Host("fe80::20:ff:fe00:1", GATEWAY_MAC, 255)


def ipv6_vendor_cloud(cap: Capture, t0: float, rtp: int = 30) -> float:
    """IPv4 background on interface 0; IPv6 ND and a Hik-Connect TLS flow on interface 1."""
    background(cap, t0, 15.0, rtp, iface=0)
    ra = inet6.ICMPv6ND_RA(routerlifetime=1800) / inet6.ICMPv6NDOptSrcLLAddr(lladdr=GATEWAY_MAC)
    ra /= inet6.ICMPv6NDOptPrefixInfo(prefix="fd20::", prefixlen=64)
    cap.emit(t0 + 0.5, ROUTER_LL, group("ff02::1"), ra, iface=1)
    nd_cam = Host(CAM6.ip, CAM6.mac, 255)
    ns = inet6.ICMPv6ND_NS(tgt=ROUTER6.ip) / inet6.ICMPv6NDOptSrcLLAddr(lladdr=CAM6.mac)
    cap.emit(t0 + 1.0, nd_cam, group("ff02::1:ff00:1"), ns, iface=1)
    na = inet6.ICMPv6ND_NA(tgt=ROUTER6.ip, R=1, S=1, O=1)
    na /= inet6.ICMPv6NDOptDstLLAddr(lladdr=GATEWAY_MAC)
    cap.emit(t0 + 1.0003, ROUTER6, nd_cam, na, iface=1)
    srv, sni = outside("2001:db8::443", 54), "api.hik-connect.com"
    flow = tls_flow(cap, t0 + 3.0, CAM6, srv, 443, sni, rtt=0.045, iface=1)
    expect(cap, flow, "vendor_cloud", CAM6, srv, 443, "tcp", True, sni, "hikvision")
    return t0 + 15.0


FINDING_SCENARIOS = (
    egress,
    vendor_cloud,
    vendor_lookup,
    external_resolver,
    upnp_port_mapping,
    inbound,
    ipv6_vendor_cloud,
)


def demo_day(cap: Capture) -> float:
    """Everything above, one after the other, over a busier background."""
    t = clean(cap, 0.0, rtp=150)
    for scenario in FINDING_SCENARIOS:
        t = scenario(cap, t + 5.0, rtp=80)
    return t
