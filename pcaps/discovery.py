"""Local discovery and configuration chatter: WS-Discovery, SADP, DHIP, mDNS, SSDP, DHCP,
and the UPnP IGD documents the gateway serves. None of it is a finding on its own.
"""

from __future__ import annotations

import uuid

import payloads as pl
from lan import BCAST, DHIP_GROUP, GW, MDNS_GROUP, NTP_SERVER, NVR, RESOLVER, SSDP_GROUP, Camera
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSRR, DNSRRSRV
from wire import Capture, Host

# --- LAN discovery --------------------------------------------------------------------------------

WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
SOAP = "http://www.w3.org/2003/05/soap-envelope"


def _uuid(cap: Capture) -> str:
    return str(uuid.UUID(bytes=cap.rng.randbytes(16), version=4))


def ws_discovery(cap: Capture, t: float, cams: list[Camera]) -> None:
    """ONVIF Probe from the NVR to 239.255.255.250:3702; ProbeMatches back to its port."""
    probe_id, sport = _uuid(cap), cap.port()
    probe = (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" '
        f'xmlns:a="{WSA}"><s:Header><a:Action s:mustUnderstand="1">{WSD}/Probe</a:Action>'
        f"<a:MessageID>uuid:{probe_id}</a:MessageID><a:ReplyTo><a:Address>{WSA}/role/"
        'anonymous</a:Address></a:ReplyTo><a:To s:mustUnderstand="1">urn:schemas-xmlsoap-'
        f'org:ws:2005:04:discovery</a:To></s:Header><s:Body><Probe xmlns="{WSD}"><d:Types '
        f'xmlns:d="{WSD}" xmlns:dp0="http://www.onvif.org/ver10/network/wsdl">'
        "dp0:NetworkVideoTransmitter</d:Types></Probe></s:Body></s:Envelope>"
    )
    cap.udp(t, NVR, SSDP_GROUP, sport, 3702, probe.encode())
    for i, cam in enumerate(cams):
        scopes = " ".join(
            f"onvif://www.onvif.org/{s}"
            for s in (
                "type/video_encoder",
                "Profile/Streaming",
                f"name/{cam.vendor.upper()}",
                f"hardware/{cam.model}",
                "location/city/hamburg",
                "location/site/hansaplatz",
            )
        )
        match = (
            f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{SOAP}" '
            f'xmlns:wsa="{WSA}" xmlns:d="{WSD}" xmlns:dn="http://www.onvif.org/ver10/network'
            f'/wsdl"><env:Header><wsa:MessageID>uuid:{_uuid(cap)}</wsa:MessageID>'
            f"<wsa:RelatesTo>uuid:{probe_id}</wsa:RelatesTo><wsa:To>{WSA}/role/anonymous"
            f"</wsa:To><wsa:Action>{WSD}/ProbeMatches</wsa:Action></env:Header><env:Body>"
            "<d:ProbeMatches><d:ProbeMatch><wsa:EndpointReference><wsa:Address>urn:uuid:"
            f"{_uuid(cap)}</wsa:Address></wsa:EndpointReference><d:Types>"
            f"dn:NetworkVideoTransmitter</d:Types><d:Scopes>{scopes}</d:Scopes><d:XAddrs>"
            f"http://{cam.ip}/onvif/device_service</d:XAddrs><d:MetadataVersion>10"
            "</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>"
        )
        cap.udp(t + 0.05 + 0.013 * i, cam.host, NVR, 3702, sport, match.encode())


def sadp(cap: Capture, t: float, cams: list[Camera]) -> None:
    """Hikvision SADP inquiry and the cameras' ProbeMatch, all on 239.255.255.250:37020."""
    probe_id = _uuid(cap).upper()
    inquiry = (
        f'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>{probe_id}</Uuid>'
        "<Types>inquiry</Types></Probe>"
    )
    cap.udp(t, NVR, SSDP_GROUP, 37020, 37020, inquiry.encode())
    for i, cam in enumerate(cams):
        fields = {
            "Uuid": probe_id,
            "Types": "inquiry",
            "DeviceType": "138273",
            "DeviceDescription": cam.model,
            "DeviceSN": cam.serial,
            "CommandPort": "8000",
            "HttpPort": "80",
            "MAC": cam.host.mac.replace(":", "-"),
            "IPv4Address": cam.ip,
            "IPv4SubnetMask": "255.255.0.0",
            "IPv4Gateway": GW.ip,
            "IPv6Address": "::",
            "IPv6Gateway": "::",
            "IPv6MaskLen": "64",
            "DHCP": "false",
            "AnalogChannelNum": "0",
            "DigitalChannelNum": "1",
            "SoftwareVersion": cam.firmware,
            "DSPVersion": "V7.3 build 220112",
            "BootTime": "2026-03-01 06:12:44",
            "Encrypt": "true",
            "ResetAbility": "false",
            "DiskNumber": "0",
            "Activated": "true",
            "PasswordResetAbility": "true",
            "SupportHCPlatform": "true",
            "HCPlatformEnable": "false",
            "IsModifyVerificationCode": "false",
            "SDKServerStatus": "true",
            "SDKOverTLSServerStatus": "false",
        }
        xml = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
        reply = f'<?xml version="1.0" encoding="UTF-8"?><ProbeMatch>{xml}</ProbeMatch>'
        cap.udp(t + 0.03 + 0.011 * i, cam.host, SSDP_GROUP, 37020, 37020, reply.encode())


def dhip_search(cap: Capture, t: float, cams: list[Camera]) -> None:
    """Dahua DHIP DHDiscover.search to 239.255.255.251:37810; client.notifyDevInfo replies."""
    search = '{ "method" : "DHDiscover.search", "params" : { "mac" : "", "uni" : 1 } }\r\n'
    cap.udp(t, NVR, DHIP_GROUP, 37810, 37810, pl.dhip(search))
    for i, cam in enumerate(cams):
        info = (
            f'{{"mac":"{cam.host.mac}","method":"client.notifyDevInfo","params":{{'
            '"deviceInfo":{"AlarmInputChannels":1,"AlarmOutputChannels":1,"DeviceClass":'
            f'"IPC","DeviceType":"{cam.model}","HttpPort":80,"IPv4Address":{{'
            f'"DefaultGateway":"{GW.ip}","DhcpEnable":false,"IPAddress":"{cam.ip}",'
            '"SubnetMask":"255.255.0.0"},"MachineName":"' + cam.name + '","Manufacturer":'
            f'"Dahua","Port":37777,"SerialNo":"{cam.serial}","Vendor":"Dahua","Version":'
            f'"{cam.firmware}","VideoInputChannels":1}}}}}}\r\n'
        )
        cap.udp(t + 0.04 + 0.01 * i, cam.host, DHIP_GROUP, 37810, 37810, pl.dhip(info))


def mdns_axis(cap: Capture, t: float, cam: Camera) -> None:
    """Axis Bonjour announcement of _axis-video._tcp (sent twice, one second apart)."""
    mac = cam.host.mac.replace(":", "").upper()
    inst = f"AXIS {cam.model} - {mac}._axis-video._tcp.local"
    target = f"axis-{mac.lower()}.local"
    records = [
        DNSRR(rrname="_axis-video._tcp.local", type="PTR", ttl=4500, rdata=inst),
        DNSRRSRV(rrname=inst, rclass=0x8001, ttl=120, priority=0, weight=0, port=80, target=target),
        DNSRR(rrname=inst, type="TXT", rclass=0x8001, ttl=4500, rdata=[f"macaddress={mac}"]),
        DNSRR(rrname=target, type="A", rclass=0x8001, ttl=120, rdata=cam.ip),
    ]
    for k in range(2):
        cap.udp(t + k, cam.host, MDNS_GROUP, 5353, 5353, DNS(id=0, qr=1, aa=1, qd=[], an=records))


def ssdp_notify(cap: Capture, t: float, cam: Camera) -> None:
    """ssdp:alive for a Basic device (the camera's web UI), not an IGD search."""
    usn = "uuid:Upnp-BasicDevice-1_0-" + cam.host.mac.replace(":", "").upper()
    server = "Linux/4.9.206-axis8, UPnP/1.0, Portable SDK for UPnP devices/1.8.4"
    sport = cap.port()
    for i, nt in enumerate(("upnp:rootdevice", usn, "urn:schemas-upnp-org:device:Basic:1")):
        msg = pl.http(
            "NOTIFY * HTTP/1.1",
            [
                ("HOST", "239.255.255.250:1900"),
                ("CACHE-CONTROL", "max-age=1800"),
                ("LOCATION", f"http://{cam.ip}:49152/rootdesc1.xml"),
                ("NT", nt),
                ("NTS", "ssdp:alive"),
                ("SERVER", server),
                ("USN", usn if nt == usn else f"{usn}::{nt}"),
            ],
        )
        cap.udp(t + 0.02 * i, cam.host, SSDP_GROUP, sport, 1900, msg)


def dhcp_dora(cap: Capture, t: float, cam: Camera) -> None:
    """DHCP Discover/Offer/Request/Ack with the gateway as server; Axis option 60 class."""
    mac = cam.host.mac
    vendor_class = f"AXIS,Network Camera,{cam.model},{cam.firmware}"
    dora(cap, t, cam.host, "axis-" + mac.replace(":", ""), vendor_class)


def dora(cap: Capture, t: float, host: Host, hostname: str, vendor_class: str) -> None:
    """DHCP Discover/Offer/Request/Ack for ``host``: option 12 ``hostname``, option 60
    ``vendor_class``; the gateway is the server."""
    xid, mac = cap.rng.getrandbits(32), host.mac
    client = Host("0.0.0.0", mac, 64)
    server = Host(GW.ip, GW.mac, 64)
    ask = [
        ("client_id", b"\x01" + bytes.fromhex(mac.replace(":", ""))),
        ("hostname", hostname),
        ("vendor_class_id", vendor_class),
        ("param_req_list", [1, 3, 6, 12, 15, 42, 119]),
    ]
    give = [
        ("server_id", GW.ip),
        ("lease_time", 86400),
        ("subnet_mask", "255.255.0.0"),
        ("router", GW.ip),
        ("name_server", RESOLVER.ip),
        ("NTP_server", NTP_SERVER.ip),
        ("domain", "cctv.local"),
    ]
    chaddr = bytes.fromhex(mac.replace(":", ""))
    request = [("requested_addr", host.ip), ("server_id", GW.ip), *ask]
    steps = [
        (client, "discover", ask, "0.0.0.0"),
        (server, "offer", give, host.ip),
        (client, "request", request, "0.0.0.0"),
        (server, "ack", give, host.ip),
    ]
    for i, (src, kind, opts, yiaddr) in enumerate(steps):
        boot = BOOTP(
            op=1 if src is client else 2,
            xid=xid,
            flags=0x8000,
            chaddr=chaddr,
            yiaddr=yiaddr,
            siaddr="0.0.0.0",
        )
        msg = boot / DHCP(options=[("message-type", kind), *opts, "end"])
        ports = (68, 67) if src is client else (67, 68)
        cap.udp(t + 0.05 * i, src, BCAST, *ports, msg)


# --- UPnP IGD (gateway side) ---

IGD_DESC = (
    '<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1'
    "</major><minor>0</minor></specVersion><device><deviceType>urn:schemas-upnp-org:device:"
    "InternetGatewayDevice:1</deviceType><friendlyName>router</friendlyName><manufacturer>"
    "MiniUPnP</manufacturer><UDN>uuid:6b1d2c3e-0000-4000-8000-0a2000000001</UDN><deviceList>"
    "<device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType><deviceList><device>"
    "<deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><serviceList>"
    "<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>"
    "<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/WANIPCn.xml</SCPDURL>"
    "<controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL></service>"
    "</serviceList></device></deviceList></device></deviceList></device></root>"
)
WANIP = "urn:schemas-upnp-org:service:WANIPConnection:1"


def soap(action: str, args: str) -> str:
    return (
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
        f'<u:{action} xmlns:u="{WANIP}">{args}</u:{action}></s:Body></s:Envelope>'
    )
