"""Vendor discovery dissectors: SADP, DHIP, Dahua 5050, WS-Discovery, mDNS, XMEye, SSDP."""

from __future__ import annotations

import json
import struct

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRSRV

from monitor.decode.discovery import (
    DISCOVERY_PORTS,
    DiscoveryInfo,
    dissect_discovery,
    parse_dahua_legacy,
    parse_dhip,
    parse_mdns,
    parse_sadp,
    parse_sadp_ether,
    parse_ws_discovery,
    parse_xmeye,
    vendor_from_text,
)

SADP_PROBE = (
    b'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>13A888A9-F1B1-4020-AE9F-05607682D23B'
    b"</Uuid><Types>inquiry</Types></Probe>"
)
SADP_MATCH = b"""<?xml version="1.0" encoding="UTF-8"?>
<ProbeMatch>
<Uuid>13A888A9-F1B1-4020-AE9F-05607682D23B</Uuid>
<Types>inquiry</Types>
<DeviceType>139265</DeviceType>
<DeviceDescription>DS-2CD2143G2-I</DeviceDescription>
<DeviceSN>DS-2CD2143G2-I20210101AAWRF12345678</DeviceSN>
<CommandPort>8000</CommandPort>
<HttpPort>80</HttpPort>
<MAC>44-19-b6-01-02-03</MAC>
<IPv4Address>10.20.0.11</IPv4Address>
<IPv4SubnetMask>255.255.0.0</IPv4SubnetMask>
<IPv4Gateway>10.20.0.1</IPv4Gateway>
<DHCP>false</DHCP>
<SoftwareVersion>V5.7.3build 220112</SoftwareVersion>
<DSPVersion>V7.3 build 220111</DSPVersion>
<Activated>true</Activated>
<SupportHCPlatform>true</SupportHCPlatform>
<HCPlatformEnable>true</HCPlatformEnable>
</ProbeMatch>
"""


def dhip(body: dict[str, object] | bytes) -> bytes:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode() + b"\n"
    return b"\x20\x00\x00\x00DHIP" + bytes(8) + struct.pack("<IIII", len(raw), 0, len(raw), 0) + raw


DHIP_REPLY = dhip(
    {
        "mac": "3c:ef:8c:41:6c:ce",
        "method": "client.notifyDevInfo",
        "params": {
            "deviceInfo": {
                "DeviceClass": "IPC",
                "DeviceType": "IPC-HDW5421S",
                "HttpPort": 80,
                "IPv4Address": {"IPAddress": "10.20.0.21", "DhcpEnable": False},
                "MachineName": "1F006E4PAX00075",
                "Port": 37777,
                "SerialNo": "1F006E4PAX00075",
                "Vendor": "Dahua",
                "Version": "2.400.0.8",
            }
        },
    }
)


def sadp_ether(optype: int, serial: bytes = b"", software: bytes = b"") -> bytes:
    head = bytes([0x21, 0x02, 0x01, 0xF6]) + struct.pack("!I", 7) + bytes([6, 4, optype, 1])
    head += b"\x12\x34" + bytes.fromhex("4419b6010203") + bytes([10, 20, 0, 11])
    head += bytes(6) + bytes(4) + bytes([255, 255, 0, 0])
    info = serial.ljust(48, b"\x00") + struct.pack("!IIII", 139265, 8000, 1, 0)
    return head + info + software.ljust(48, b"\x00") + b"V7.3 build 220111".ljust(48, b"\x00")


def dahua_5050_reply() -> bytes:
    model = b"IPC-HFW4431R-Z"
    section3 = b"SerialNo:4J01234567890\r\nVersion:2.420.0000\r\n"
    head = bytearray(120)
    head[0:2] = b"\xb3\x00"
    head[2:4] = struct.pack("<H", 17 + len(model))
    head[20:22] = struct.pack("<H", len(section3))
    head[40:56] = b"IPC".ljust(16, b"\x00")
    head[56:60] = bytes([10, 20, 0, 22])
    return bytes(head) + b"3c:ef:8c:01:02:03" + model + section3


def wsd(body: str, action: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><env:Envelope '
        'xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">'
        "<env:Header><wsa:MessageID>urn:uuid:1</wsa:MessageID>"
        f"<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/{action}</wsa:Action>"
        f"</env:Header><env:Body>{body}</env:Body></env:Envelope>"
    ).encode()


HIK_SCOPES = (
    "onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming "
    "onvif://www.onvif.org/MAC/44:19:b6:01:02:03 onvif://www.onvif.org/hardware/DS-2CD2143G2-I "
    "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G2-I "
    "onvif://www.onvif.org/location/city/hangzhou"
)
WSD_MATCH = wsd(
    "<d:ProbeMatches><d:ProbeMatch><wsa:EndpointReference><wsa:Address>"
    "urn:uuid:3fa1fe68-b915-4053-a3e1-4419b6010203</wsa:Address></wsa:EndpointReference>"
    "<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>"
    f"<d:Scopes>{HIK_SCOPES}</d:Scopes>"
    "<d:XAddrs>http://10.20.0.11/onvif/device_service http://[fe80::1]/onvif/device_service"
    "</d:XAddrs><d:MetadataVersion>10</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches>",
    "ProbeMatches",
)
XMEYE_REPLY_BODY = {
    "NetWork.NetCommon": {
        "BuildDate": "2018-06-14 10:01:31",
        "ChannelNum": 1,
        "GateWay": "0x0101A8C0",
        "HostIP": "0x0A01A8C0",
        "HostName": "LocalHost",
        "HttpPort": 80,
        "MAC": "00:12:31:a1:b2:c3",
        "SN": "bd1234567890abcd",
        "TCPPort": 34567,
        "Version": "V4.02.R11.00000117.10010.131800.00000",
    },
    "Ret": 100,
    "SessionID": "0x00000000",
}


def xmeye(msg_id: int, body: bytes = b"") -> bytes:
    return struct.pack("<BBHIIHHI", 255, 1, 0, 0, 0, 0, msg_id, len(body)) + body


def test_sadp_probe() -> None:
    info = parse_sadp(SADP_PROBE)
    assert info is not None
    assert (info.protocol, info.vendor, info.kind) == ("sadp", "hikvision", "probe")
    assert ("Types", "inquiry") in info.extra


def test_sadp_probe_match() -> None:
    info = parse_sadp(SADP_MATCH)
    assert info is not None and info.kind == "reply"
    assert info.model == "DS-2CD2143G2-I"
    assert info.serial == "DS-2CD2143G2-I20210101AAWRF12345678"
    assert info.firmware == "V5.7.3build 220112"
    assert (info.mac, info.ipv4) == ("44:19:b6:01:02:03", "10.20.0.11")
    extra = dict(info.extra)
    assert extra["DSPVersion"] == "V7.3 build 220111"
    assert extra["HCPlatformEnable"] == "true"
    assert "DeviceSN" not in extra


def test_sadp_needs_its_xml_roots() -> None:
    assert parse_sadp(b"<?xml version='1.0'?><Hello/>") is None
    assert parse_sadp(b"") is None


def test_sadp_over_ethernet_inquiry_reply() -> None:
    info = parse_sadp_ether(
        sadp_ether(4, b"DS-7608NI-K2/8P0820200101CCRR123", b"V4.30.085 build 200916")
    )
    assert info is not None
    assert (info.protocol, info.vendor, info.kind) == ("sadp", "hikvision", "reply")
    assert (info.mac, info.ipv4) == ("44:19:b6:01:02:03", "10.20.0.11")
    assert info.serial == "DS-7608NI-K2/8P0820200101CCRR123"
    assert info.firmware == "V4.30.085 build 200916"
    assert ("optype", "4") in info.extra


def test_sadp_over_ethernet_is_always_recognised() -> None:
    probe = parse_sadp_ether(sadp_ether(3))
    assert probe is not None and probe.kind == "probe" and probe.serial is None
    tiny = parse_sadp_ether(b"\x21\x02")
    assert tiny == DiscoveryInfo(protocol="sadp", vendor="hikvision", kind="announce")
    garbage = parse_sadp_ether(bytes(range(200)))
    assert garbage is not None and garbage.vendor == "hikvision"


def test_dhip_search_probe() -> None:
    probe = dhip(b'{ "method" : "DHDiscover.search", "params" : { "mac" : "", "uni" : 1 } }\n')
    info = parse_dhip(probe)
    assert info is not None
    assert (info.protocol, info.vendor, info.kind) == ("dhip", "dahua", "probe")


def test_dhip_device_info_reply() -> None:
    info = parse_dhip(DHIP_REPLY)
    assert info is not None and info.kind == "reply"
    assert (info.model, info.serial, info.firmware) == (
        "IPC-HDW5421S",
        "1F006E4PAX00075",
        "2.400.0.8",
    )
    assert (info.mac, info.ipv4, info.name) == (
        "3c:ef:8c:41:6c:ce",
        "10.20.0.21",
        "1F006E4PAX00075",
    )
    extra = dict(info.extra)
    assert extra["method"] == "client.notifyDevInfo" and extra["Port"] == "37777"
    assert "IPv4Address" not in extra


def test_dhip_oem_vendor_and_bad_json() -> None:
    lorex = dhip({"method": "client.notifyDevInfo", "params": {"deviceInfo": {"Vendor": "Lorex"}}})
    assert parse_dhip(lorex).vendor == "lorex"  # type: ignore[union-attr]
    broken = parse_dhip(dhip(b'{"method": "client.notifyDevInfo", "params": {'))
    assert broken is not None and broken.model is None and broken.vendor == "dahua"
    nested = parse_dhip(dhip(b"[" * 100000))
    assert nested is not None
    assert parse_dhip(b"\x20\x00\x00\x00DHIX" + bytes(40)) is None


def test_dahua_legacy_probe_and_reply() -> None:
    probe = parse_dahua_legacy(b"\xa3\x01\x00\x01" + bytes(12) + b"\x02" + bytes(15))
    assert probe is not None and (probe.protocol, probe.kind) == ("dahua-5050", "probe")
    info = parse_dahua_legacy(dahua_5050_reply())
    assert info is not None and info.kind == "reply"
    assert (info.model, info.serial) == ("IPC-HFW4431R-Z", "4J01234567890")
    assert (info.mac, info.ipv4) == ("3c:ef:8c:01:02:03", "10.20.0.22")
    assert ("Version", "2.420.0000") in info.extra
    assert parse_dahua_legacy(b"\xb3\x00") is None
    assert parse_dahua_legacy(b"\x00" * 40) is None


def test_ws_discovery_probe_match_from_a_hikvision_camera() -> None:
    info = parse_ws_discovery(WSD_MATCH)
    assert info is not None
    assert (info.protocol, info.vendor, info.kind) == ("ws-discovery", "hikvision", "reply")
    assert (info.model, info.name) == ("DS-2CD2143G2-I", "HIKVISION DS-2CD2143G2-I")
    assert (info.mac, info.ipv4) == ("44:19:b6:01:02:03", "10.20.0.11")
    extra = dict(info.extra)
    assert extra["location"] == "city/hangzhou"
    assert extra["types"] == "dn:NetworkVideoTransmitter tds:Device"
    assert extra["endpoint"].startswith("urn:uuid:3fa1fe68")


@pytest.mark.parametrize(
    ("body", "action", "kind"),
    [
        ("<d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe>", "Probe", "probe"),
        (
            "<d:Hello><d:Scopes>onvif://www.onvif.org/manufacturer/Dahua "
            "onvif://www.onvif.org/hardware/IPC-HDW2431T</d:Scopes></d:Hello>",
            "Hello",
            "announce",
        ),
        (
            "<d:Bye><wsa:EndpointReference><wsa:Address>urn:uuid:9</wsa:Address>"
            "</wsa:EndpointReference></d:Bye>",
            "Bye",
            "announce",
        ),
    ],
)
def test_ws_discovery_kinds(body: str, action: str, kind: str) -> None:
    info = parse_ws_discovery(wsd(body, action))
    assert info is not None and info.kind == kind
    if action == "Hello":
        assert (info.vendor, info.model) == ("dahua", "IPC-HDW2431T")


def test_ws_discovery_windows_resolve_has_no_vendor() -> None:
    # As sent by Windows in ndpi_ws-discovery.pcap.
    payload = (
        b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
        b'xmlns:soap="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        b'xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery"><soap:Header>'
        b"<wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To><wsa:Action>"
        b"http://schemas.xmlsoap.org/ws/2005/04/discovery/Resolve</wsa:Action><wsa:MessageID>"
        b"urn:uuid:3f42dc9a-24ce-48d1-88f9-16b96a137d71</wsa:MessageID></soap:Header><soap:Body>"
        b"<wsd:Resolve><wsa:EndpointReference><wsa:Address>urn:uuid:e3248000-80ce-11db-8000-"
        b"001ba99ec956</wsa:Address></wsa:EndpointReference></wsd:Resolve></soap:Body>"
        b"</soap:Envelope>"
    )
    info = parse_ws_discovery(payload)
    assert info is not None and info.kind == "probe" and info.vendor is None
    assert parse_ws_discovery(b"<Envelope>nothing</Envelope>") is None


def test_mdns_axis_announcement() -> None:
    instance = "AXIS M3045-V - ACCC8E0A1B2C._axis-video._tcp.local"
    payload = bytes(
        DNS(
            qr=1,
            aa=1,
            qd=[],
            an=[DNSRR(rrname="_axis-video._tcp.local", type="PTR", rdata=instance)],
            ar=[
                DNSRRSRV(rrname=instance, target="axis-accc8e0a1b2c.local", port=80),
                DNSRR(rrname="axis-accc8e0a1b2c.local", type="A", rdata="10.20.0.12"),
            ],
        )
    )
    info = parse_mdns(payload)
    assert info is not None
    assert (info.protocol, info.vendor, info.kind) == ("mdns", "axis", "announce")
    assert info.name == "axis m3045-v - accc8e0a1b2c"
    assert (info.model, info.mac, info.ipv4) == ("M3045-V", "ac:cc:8e:0a:1b:2c", "10.20.0.12")
    assert ("service", "_axis-video._tcp") in info.extra


def test_mdns_generic_query() -> None:
    info = parse_mdns(bytes(DNS(qd=[DNSQR(qname="_ipp._tcp.local", qtype="PTR")])))
    assert info is not None
    assert (info.vendor, info.kind, info.extra) == (None, "probe", (("service", "_ipp._tcp"),))
    assert parse_mdns(bytes(12)) is None


def test_xmeye_search_and_reply() -> None:
    probe = parse_xmeye(struct.pack("<BBHIIHHI", 255, 0, 0, 0, 0, 0, 1530, 0))
    assert probe is not None and (probe.protocol, probe.vendor, probe.kind) == (
        "xmeye",
        "xiongmai",
        "probe",
    )
    info = parse_xmeye(xmeye(1531, json.dumps(XMEYE_REPLY_BODY).encode() + b"\n\x00"))
    assert info is not None and info.kind == "reply"
    assert (info.ipv4, info.mac, info.serial) == (
        "192.168.1.10",
        "00:12:31:a1:b2:c3",
        "bd1234567890abcd",
    )
    assert (info.firmware, info.name) == ("V4.02.R11.00000117.10010.131800.00000", "LocalHost")
    assert ("TCPPort", "34567") in info.extra


def test_xmeye_rejects_other_headers_and_bad_ips() -> None:
    assert parse_xmeye(b"\xfe" + bytes(19)) is None
    assert parse_xmeye(b"\xff\x02" + bytes(18)) is None
    body = {"NetWork.NetCommon": {"HostIP": "10.1.1.1"}}
    info = parse_xmeye(xmeye(1531, json.dumps(body).encode()))
    assert info is not None and info.ipv4 is None


def test_ssdp_through_the_dispatcher() -> None:
    info = dissect_discovery(
        1900,
        b"M-SEARCH * HTTP/1.1\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
        b'MAN: "ssdp:discover"\r\n\r\n',
    )
    assert info is not None and (info.protocol, info.kind) == ("ssdp", "probe")
    assert ("igd", "search") in info.extra
    reply = dissect_discovery(
        1900,
        b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:a::upnp:rootdevice\r\n"
        b"LOCATION: http://10.20.0.13:49152/desc.xml\r\n"
        b"SERVER: Linux/4.14.79-axis8, UPnP/1.0, Portable SDK for UPnP devices/1.8.4\r\n\r\n",
    )
    assert reply is not None
    assert (reply.vendor, reply.kind, reply.ipv4) == ("axis", "reply", "10.20.0.13")


@pytest.mark.parametrize(
    ("port", "payload", "protocol"),
    [
        (37020, SADP_MATCH, "sadp"),
        (37810, DHIP_REPLY, "dhip"),
        (5050, dahua_5050_reply(), "dahua-5050"),
        (3702, WSD_MATCH, "ws-discovery"),
        (34569, xmeye(1530), "xmeye"),
        (5353, bytes(DNS(qd=[DNSQR(qname="_axis-video._tcp.local", qtype="PTR")])), "mdns"),
    ],
)
def test_dispatch_by_port(port: int, payload: bytes, protocol: str) -> None:
    assert port in DISCOVERY_PORTS
    info = dissect_discovery(port, payload)
    assert info is not None and info.protocol == protocol
    assert dissect_discovery(4242, payload) is None


@pytest.mark.parametrize(
    ("texts", "vendor"),
    [
        (("HIKVISION DS-2CD2143G2-I",), "hikvision"),
        ((None, "Samsung Techwin"), "hanwha"),
        (("Linux/4.14.79-axis8, UPnP/1.0",), "axis"),
        (("taxis and maxis",), None),
        (("Uniview IPC",), "uniview"),
        (("", None), None),
    ],
)
def test_vendor_from_text(texts: tuple[str | None, ...], vendor: str | None) -> None:
    assert vendor_from_text(*texts) == vendor
