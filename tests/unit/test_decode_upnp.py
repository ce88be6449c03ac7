"""SSDP and UPnP IGD port-mapping dissectors."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.decode import upnp
from monitor.decode.http import parse_http_request
from monitor.decode.upnp import (
    is_igd_advert,
    is_igd_search,
    parse_port_mapping_request,
    parse_ssdp,
    xml_leaves,
)

# As sent by the D-Link DCS-935L camera in the IoT-SENTINEL capture.
IGD_SEARCH = (
    b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
    b"ST: urn:schemas-upnp-org:service:WANIPConnection:1\r\n"
    b'MAN: "ssdp:discover"\r\nMX: 3\r\n\r\n'
)
NOTIFY = (
    b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n"
    b"LOCATION: http://10.10.10.58:8614/rootdesc.xml\r\nNT: upnp:rootdevice\r\n"
    b"NTS: ssdp:alive\r\nSERVER: Cellvision UPnP/1.0\r\n"
    b"USN: uuid:ae67e622-7a66-465e-bab0-b0c5541c7185::upnp:rootdevice\r\n\r\n"
)


def soap(
    action: str, body_args: str, service: str = "WANIPConnection", header: bool = True
) -> bytes:
    envelope = (
        '<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
        f'<u:{action} xmlns:u="urn:schemas-upnp-org:service:{service}:1">{body_args}'
        f"</u:{action}></s:Body></s:Envelope>\r\n"
    )
    head = "POST /ctl/IPConn HTTP/1.1\r\nHOST: 10.20.0.1:5000\r\nCONTENT-TYPE: text/xml\r\n"
    if header:
        head += f'SOAPACTION: "urn:schemas-upnp-org:service:{service}:1#{action}"\r\n'
    return f"{head}CONTENT-LENGTH: {len(envelope)}\r\n\r\n{envelope}".encode()


MAPPING_ARGS = (
    "<NewRemoteHost></NewRemoteHost><NewExternalPort>8000</NewExternalPort>"
    "<NewProtocol>tcp</NewProtocol><NewInternalPort>8000</NewInternalPort>"
    "<NewInternalClient>10.20.0.11</NewInternalClient><NewEnabled>1</NewEnabled>"
    "<NewPortMappingDescription>HIK&amp;SDK</NewPortMappingDescription>"
    "<NewLeaseDuration>0</NewLeaseDuration>"
)


def test_igd_search_from_a_camera() -> None:
    msg = parse_ssdp(IGD_SEARCH)
    assert msg is not None
    assert msg.kind == "M-SEARCH" and msg.man == "ssdp:discover"
    assert msg.st == "urn:schemas-upnp-org:service:WANIPConnection:1"
    assert is_igd_search(msg) and not is_igd_advert(msg)


@pytest.mark.parametrize(
    ("st", "igd"),
    [
        ("urn:schemas-upnp-org:device:InternetGatewayDevice:1", True),
        ("urn:schemas-upnp-org:service:WANPPPConnection:1", True),
        ("urn:schemas-upnp-org:device:InternetGatewayDevice:2", True),
        ("ssdp:all", False),
        ("upnp:rootdevice", False),
        ("urn:schemas-upnp-org:device:MediaRenderer:1", False),
    ],
)
def test_what_counts_as_an_igd_search(st: str, igd: bool) -> None:
    msg = parse_ssdp(f"M-SEARCH * HTTP/1.1\r\nST: {st}\r\nMAN: ssdp:discover\r\n\r\n".encode())
    assert msg is not None and is_igd_search(msg) is igd


def test_notify_and_gateway_adverts() -> None:
    msg = parse_ssdp(NOTIFY)
    assert msg is not None
    assert (msg.kind, msg.nt, msg.nts) == ("NOTIFY", "upnp:rootdevice", "ssdp:alive")
    assert msg.location == "http://10.10.10.58:8614/rootdesc.xml"
    assert msg.server == "Cellvision UPnP/1.0"
    assert msg.usn is not None and msg.usn.startswith("uuid:ae67e622")
    assert not is_igd_search(msg) and not is_igd_advert(msg)
    gateway = parse_ssdp(
        NOTIFY.replace(
            b"NT: upnp:rootdevice", b"NT: urn:schemas-upnp-org:service:WANIPConnection:1"
        )
    )
    assert gateway is not None and is_igd_advert(gateway) and not is_igd_search(gateway)


def test_search_response() -> None:
    msg = parse_ssdp(
        b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: upnp:rootdevice\r\n"
        b"USN: uuid:x::upnp:rootdevice\r\nLOCATION: http://10.20.0.11:49152/desc.xml\r\n"
        b"SERVER: Linux/4.14.79-axis8, UPnP/1.0, Portable SDK for UPnP devices/1.8.4\r\n\r\n"
    )
    assert msg is not None and msg.kind == "RESPONSE" and msg.st == "upnp:rootdevice"


@pytest.mark.parametrize(
    "payload",
    [
        b"GET / HTTP/1.1\r\n\r\n",
        b"M-SEARCH * RTSP/1.0\r\n\r\n",
        b"NOTIFY",
        b"HTTP/1.1 abc\r\n",
        b"",
    ],
)
def test_not_ssdp(payload: bytes) -> None:
    assert parse_ssdp(payload) is None


def test_add_port_mapping_with_soapaction() -> None:
    req = parse_http_request(soap("AddPortMapping", MAPPING_ARGS))
    assert req is not None
    mapping = parse_port_mapping_request(req)
    assert mapping is not None
    assert (mapping.action, mapping.service) == ("AddPortMapping", "WANIPConnection")
    assert (mapping.external_port, mapping.internal_port) == (8000, 8000)
    assert (mapping.internal_client, mapping.protocol) == ("10.20.0.11", "TCP")
    assert mapping.description == "HIK&SDK" and mapping.lease_duration == 0
    assert mapping.remote_host is None


def test_body_in_a_later_segment_still_recognised() -> None:
    payload = soap("AddPortMapping", MAPPING_ARGS, service="WANPPPConnection")
    head = payload[: payload.index(b"\r\n\r\n") + 4]
    req = parse_http_request(head)
    assert req is not None
    mapping = parse_port_mapping_request(req)
    assert mapping is not None and mapping.service == "WANPPPConnection"
    assert mapping.external_port is None and mapping.internal_client is None


def test_recognised_from_the_body_alone() -> None:
    req = parse_http_request(soap("AddAnyPortMapping", MAPPING_ARGS, header=False))
    assert req is not None and req.soap_action is None
    mapping = parse_port_mapping_request(req)
    assert mapping is not None
    assert (mapping.action, mapping.service, mapping.external_port) == (
        "AddAnyPortMapping",
        "WANIPConnection",
        8000,
    )


def test_igdv2_add_pinhole() -> None:
    args = (
        "<RemoteHost>2001:db8::9</RemoteHost><RemotePort>0</RemotePort>"
        "<InternalClient>2001:db8::11</InternalClient><InternalPort>554</InternalPort>"
        "<Protocol>17</Protocol><LeaseTime>3600</LeaseTime>"
    )
    req = parse_http_request(soap("AddPinhole", args, service="WANIPv6FirewallControl"))
    assert req is not None
    mapping = parse_port_mapping_request(req)
    assert mapping is not None
    assert (mapping.action, mapping.service, mapping.protocol) == (
        "AddPinhole",
        "WANIPv6FirewallControl",
        "UDP",
    )
    assert (mapping.internal_client, mapping.internal_port, mapping.lease_duration) == (
        "2001:db8::11",
        554,
        3600,
    )
    assert mapping.external_port is None and mapping.remote_host == "2001:db8::9"


@pytest.mark.parametrize(
    "payload",
    [
        soap("GetExternalIPAddress", ""),
        soap("DeletePortMapping", "<NewExternalPort>80</NewExternalPort>"),
        b"GET /rootDesc.xml HTTP/1.1\r\nHost: 10.20.0.1\r\n\r\n",
        b"POST /x HTTP/1.1\r\nSOAPAction: garbage\r\n\r\n<NewExternalPort>1</NewExternalPort>",
    ],
)
def test_not_a_mapping_request(payload: bytes) -> None:
    req = parse_http_request(payload)
    assert req is not None
    assert parse_port_mapping_request(req) is None


def test_namespaced_arguments_and_bad_numbers() -> None:
    args = (
        "<m:NewExternalPort>99999999999</m:NewExternalPort>"
        "<m:NewInternalPort> 80 </m:NewInternalPort>"
    )
    req = parse_http_request(soap("AddPortMapping", args))
    assert req is not None
    mapping = parse_port_mapping_request(req)
    assert mapping is not None
    assert mapping.external_port is None and mapping.internal_port == 80


def test_xml_leaves() -> None:
    leaves = xml_leaves(b'<a><b:c x="1">one &lt;1&gt;</b:c><c>two</c><d/><e>cut')
    assert leaves == {"c": "one <1>"}


BACKTRACKING_LEAF = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)(?:\s[^<>]*)?>([^<]*)</")
XML_PIECES = [b"<", b"</", b">", b"a", b"Name", b"s:", b":", b" ", b"x=\"1\"", b"-", b".", b"9",
              b"text", b"&amp;", b"\n", b"/", b"_"]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(XML_PIECES), max_size=30).map(b"".join))
@example(b'<s:Envelope><s:Body x="1"><u:Port a="b">80</u:Port></s:Body></s:Envelope>')
@example(b"<a:b:c>x</a:b:c><a b>y</a><_x-1.2 >z</")
def test_the_possessive_leaf_pattern_finds_what_the_backtracking_one_finds(data: bytes) -> None:
    assert upnp._LEAF.findall(data) == BACKTRACKING_LEAF.findall(data)
