"""Traffic that tells who is who without an inventory, and what it is expected to tell.

A VMS workstation joins the segment (DHCP with a Windows vendor class and a host name),
opens the web interfaces of the cameras (HTTP Server banners and realms), and runs the
vendor search tools: Hikvision SADP over raw Ethernet (EtherType 0x8033, answered by the
NVR's older firmware), Dahua's legacy UDP 5050 search, the XMEye UDP 34569 search; the
white-label camera also says ONVIF Hello. Layouts follow the public protocol facts in
``../shared/reference/vendors/`` (notes §1.5, §2) and the dissectors' references
(hiktools/``sadp.h``, UniversalScanner, python-dvr).

:func:`expect_devices` declares, next to this traffic, what a replay without a site policy
must learn about each host of ``clean.pcap`` (written to expected.yaml by build.py).
"""

from __future__ import annotations

import json
import struct
import uuid

import payloads as pl
from discovery import SOAP, WSA, WSD, dora
from lan import BCAST, CAMS, GW, NTP_SERVER, NVR, RESOLVER, SSDP_GROUP, Camera
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from wire import Capture, Host, TcpSession

WORKSTATION = Host("10.20.0.50", "0a:20:00:00:00:50")  # VMS PC, locally administered MAC
WS_NAME = "VMS-WS01"
NVR_MODEL = "DS-7616NI-K2"
NVR_SERIAL = NVR_MODEL + "20230601CCWRG12345678"  # model, date, CCWR, number
NVR_FIRMWARE = "V4.30.085 build 200916"
XM_BOARD = "IPG-53H20PL-S"
SADP_ETHERTYPE = 0x8033


def _sadp_frame(optype: int, mac: str, ip: str, serial: str = "", software: str = "") -> bytes:
    """SADP over Ethernet: 38-byte header (op type at 10, MAC at 14, IPv4 at 20, mask at
    34); a reply adds serial[48], four u32 (device type, port, channels, 0), software[48],
    DSP version[48]."""
    head = bytes([0x21, 0x02, 0x01, 0xF6]) + struct.pack("!I", 0x2C1) + bytes([6, 4, optype, 1])
    head += b"\x00\x00" + bytes.fromhex(mac.replace(":", "")) + bytes(map(int, ip.split(".")))
    head += bytes(10) + bytes([255, 255, 0, 0])
    if optype != 4:
        return head
    info = serial.encode().ljust(48, b"\x00") + struct.pack("!IIII", 0x20508, 8000, 16, 0)
    return (
        head
        + info
        + software.encode().ljust(48, b"\x00")
        + b"V5.0, build 200820".ljust(48, b"\x00")
    )


def sadp_raw(cap: Capture, t: float, asker: Host) -> None:
    """SADP tool inquiry (op 3) as a raw broadcast frame; the NVR answers (op 4) in kind."""
    inquiry = _sadp_frame(3, asker.mac, asker.ip)
    cap.emit_l2(t, Ether(src=asker.mac, dst=BCAST.mac, type=SADP_ETHERTYPE), Raw(inquiry))
    reply = _sadp_frame(4, NVR.mac, NVR.ip, NVR_SERIAL, NVR_FIRMWARE)
    cap.emit_l2(t + 0.02, Ether(src=NVR.mac, dst=BCAST.mac, type=SADP_ETHERTYPE), Raw(reply))


def dahua_5050(cap: Capture, t: float, asker: Host, cam: Camera) -> None:
    """Dahua discovery v1: ``a3`` search to broadcast UDP 5050, ``b3`` answer with device
    type[16] at 40, IPv4 at 56, MAC text at 120, the model, then ``Key:Value`` lines."""
    sport = cap.port()
    cap.udp(t, asker, BCAST, sport, 5050, b"\xa3" + bytes(31))
    model = cam.model.encode()
    lines = f"SerialNo:{cam.serial}\r\nVersion:{cam.firmware}\r\n".encode()
    head = bytearray(120)
    head[0:2] = b"\xb3\x00"
    head[2:4] = struct.pack("<H", 17 + len(model))
    head[20:22] = struct.pack("<H", len(lines))
    head[40:56] = b"IPC".ljust(16, b"\x00")
    head[56:60] = bytes(map(int, cam.ip.split(".")))
    answer = bytes(head) + cam.host.mac.encode() + model + lines
    cap.udp(t + 0.03, cam.host, asker, 5050, sport, answer)


def _xm(msg_id: int, body: bytes = b"", version: int = 0) -> bytes:
    return struct.pack("<BBHIIHHI", 0xFF, version, 0, 0, 0, 0, msg_id, len(body)) + body


def xmeye_search(cap: Capture, t: float, asker: Host, cam: Camera) -> None:
    """XMEye search (message 1530) to broadcast UDP 34569; the camera's NetWork.NetCommon."""
    cap.udp(t, asker, BCAST, 34568, 34569, _xm(1530))
    ip_hex = "0x" + bytes(map(int, cam.ip.split(".")))[::-1].hex().upper()
    common = {
        "BuildDate": "2021-03-16 10:48:02",
        "ChannelNum": 1,
        "DeviceType": 1,
        "GateWay": "0x0100140A",
        "HostIP": ip_hex,
        "HostName": "LocalHost",
        "HttpPort": 80,
        "MAC": cam.host.mac,
        "SN": cam.serial,
        "Submask": "0x0000FFFF",
        "TCPPort": 34567,
        "Version": cam.firmware,
    }
    body = json.dumps({"NetWork.NetCommon": common, "Ret": 100, "SessionID": "0x00000000"})
    cap.udp(t + 0.04, cam.host, BCAST, 34569, 34568, _xm(1531, body.encode() + b"\n\x00", 1))


def ws_hello(cap: Capture, t: float, cam: Camera, hardware: str, name: str) -> None:
    """ONVIF WS-Discovery Hello to 239.255.255.250:3702 (a camera joining the network)."""
    scopes = " ".join(
        f"onvif://www.onvif.org/{s}"
        for s in ("type/video_encoder", f"hardware/{hardware}", f"name/{name}", "Profile/Streaming")
    )
    hello = (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" xmlns:a="{WSA}" '
        f'xmlns:d="{WSD}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>'
        f"<a:MessageID>uuid:{uuid.UUID(bytes=cap.rng.randbytes(16), version=4)}</a:MessageID>"
        f"<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To><a:Action>{WSD}/Hello"
        "</a:Action></s:Header><s:Body><d:Hello><a:EndpointReference><a:Address>urn:uuid:"
        f"{uuid.UUID(bytes=cap.rng.randbytes(16), version=4)}</a:Address></a:EndpointReference>"
        f"<d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>{scopes}</d:Scopes><d:XAddrs>"
        f"http://{cam.ip}:8899/onvif/device_service</d:XAddrs><d:MetadataVersion>1"
        "</d:MetadataVersion></d:Hello></s:Body></s:Envelope>"
    )
    cap.udp(t, cam.host, SSDP_GROUP, 3702, 3702, hello.encode())


# What each camera's web server answers an unauthenticated request with.
WEB_401 = {
    11: [("Server", "App-webs/"), ("WWW-Authenticate", 'Basic realm="Hikvision"')],
    12: [("Server", "App-webs/"), ("WWW-Authenticate", 'Basic realm="Hikvision"')],
    13: [("WWW-Authenticate", 'Digest realm="Login to 7J0A1B2PAZ3C413", qop="auth"')],
    14: [("WWW-Authenticate", 'Digest realm="AXIS_00408C1A2B14", qop="auth"')],
}


def web_browse(cap: Capture, t: float, client: Host, cams: list[Camera]) -> None:
    """The workstation opens each camera's web interface: GET, 401 with the realm, close."""
    for i, cam in enumerate(cams):
        s = TcpSession(cap, client, cam.host, 80, t + 0.4 * i, rtt=0.0005).handshake()
        n = int(cam.ip.rsplit(".", 1)[1])
        ua = ("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edge/120.0")
        req = pl.http("GET /doc/page/login.asp HTTP/1.1", [("Host", cam.ip), ua])
        headers = [*WEB_401[n], ("Content-Type", "text/html"), ("Connection", "close")]
        s.exchange(req, pl.http("HTTP/1.1 401 Unauthorized", headers, "<html>401</html>"))
        s.close(from_cli=False)


def workstation(cap: Capture, t: float) -> None:
    """A VMS workstation joins and looks around: DHCP, the web UIs, three vendor searches."""
    dora(cap, t, WORKSTATION, WS_NAME, "MSFT 5.0")
    web_browse(cap, t + 1.0, WORKSTATION, [CAMS[n] for n in (11, 12, 13, 14)])
    sadp_raw(cap, t + 3.0, WORKSTATION)
    dahua_5050(cap, t + 3.5, WORKSTATION, CAMS[16])
    xmeye_search(cap, t + 4.0, WORKSTATION, CAMS[15])
    ws_hello(cap, t + 4.5, CAMS[15], XM_BOARD, "NETIPC")


def expect_devices(cap: Capture) -> None:
    """What replaying ``clean.pcap`` without a site policy must learn about every host.

    vendor/model/firmware/serial: the SADP, DHIP, Dahua 5050, XMEye and DHCP option 60
    answers; roles: serving RTSP, discovery claims (DHIP DeviceClass, ONVIF Types, Axis
    mDNS) and model naming for cameras, pulling RTSP from four cameras for the NVR, DHCP,
    DNS and NTP answers for the infrastructure, the web use and the Windows DHCP client
    of the workstation. The Xiongmai camera has no vendor OUI (AltoBeam Wi-Fi): its vendor
    comes from the XMEye answer, its model from the ONVIF hardware scope.
    """
    for n in (11, 12, 13, 14, 15, 16):
        cam = CAMS[n]
        serial = None if n == 14 else cam.serial  # Axis names its serial nowhere on the LAN
        model = XM_BOARD if n == 15 else cam.model
        cap.expect_device(cam.ip, vendor=cam.vendor, model=model, firmware=cam.firmware,
                          serial=serial, role="camera", mac=cam.host.mac)  # fmt: skip
    cap.expect_device(NVR.ip, vendor="hikvision", model=NVR_MODEL, firmware=NVR_FIRMWARE,
                      serial=NVR_SERIAL, role="recorder", mac=NVR.mac)  # fmt: skip
    for host in (GW, RESOLVER, NTP_SERVER):
        cap.expect_device(host.ip, vendor=None, model=None, firmware=None, role="infrastructure")
    cap.expect_device(WORKSTATION.ip, vendor=None, model=None, firmware=None,
                      role="workstation", hostname=WS_NAME)  # fmt: skip
