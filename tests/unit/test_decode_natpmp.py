"""NAT-PMP and PCP mapping-request dissector."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from monitor.decode.natpmp import MappingRequest, parse_natpmp_or_pcp


def pcp_request(
    opcode: int,
    client: str = "10.20.0.11",
    proto: int = 6,
    internal: int = 554,
    external: int = 8554,
    external_ip: str = "0.0.0.0",
    lifetime: int = 7200,
) -> bytes:
    def addr(text: str) -> bytes:
        ip = ipaddress.ip_address(text)
        return ip.packed if ip.version == 6 else b"\x00" * 10 + b"\xff\xff" + ip.packed

    head = struct.pack("!BBHI", 2, opcode, 0, lifetime) + addr(client)
    body = b"N" * 12 + struct.pack("!B3xHH", proto, internal, external) + addr(external_ip)
    return head + body


def test_natpmp_tcp_mapping_request() -> None:
    request = parse_natpmp_or_pcp(b"\x00\x02\x00\x00\x1f\x90\x1f\x91\x00\x00\x1c\x20")
    assert request == MappingRequest(
        protocol="nat-pmp",
        opcode="map",
        transport="tcp",
        internal_port=8080,
        external_port=8081,
        lifetime=7200,
    )


def test_natpmp_udp_delete_request() -> None:
    request = parse_natpmp_or_pcp(b"\x00\x01\x00\x00\x00\x35\x00\x00\x00\x00\x00\x00")
    assert request is not None and request.transport == "udp" and request.lifetime == 0


@pytest.mark.parametrize(
    "payload",
    [
        b"\x00\x00",  # external address request: not a mapping
        b"\x00\x82\x00\x00" + bytes(12),  # mapping response
        b"\x00\x02\x00\x00\x1f\x90",  # cut
        b"\x01\x02" + bytes(10),  # unknown version
        b"\x00",
        b"",
    ],
)
def test_natpmp_non_requests(payload: bytes) -> None:
    assert parse_natpmp_or_pcp(payload) is None


def test_pcp_map_request_with_ipv4_mapped_addresses() -> None:
    request = parse_natpmp_or_pcp(pcp_request(1))
    assert request == MappingRequest(
        protocol="pcp",
        opcode="map",
        transport="tcp",
        internal_port=554,
        external_port=8554,
        lifetime=7200,
        client_ip="10.20.0.11",
        external_ip=None,
    )


def test_pcp_map_with_suggested_external_address_and_ipv6_client() -> None:
    payload = pcp_request(1, client="2001:db8::11", proto=17, external_ip="203.0.113.5")
    request = parse_natpmp_or_pcp(payload + b"\x01\x00\x00\x00")  # trailing option
    assert request is not None
    assert (request.transport, request.client_ip, request.external_ip) == (
        "udp",
        "2001:db8::11",
        "203.0.113.5",
    )


def test_pcp_peer_request() -> None:
    peer = (
        pcp_request(2, proto=0)
        + struct.pack("!H2x", 443)
        + ipaddress.ip_address("2001:db8::99").packed
    )
    request = parse_natpmp_or_pcp(peer)
    assert request is not None
    assert (request.opcode, request.transport, request.remote_ip, request.remote_port) == (
        "peer",
        "all",
        "2001:db8::99",
        443,
    )


@pytest.mark.parametrize(
    "payload",
    [
        pcp_request(1)[:50],  # cut
        pcp_request(0x81),  # MAP response (R bit)
        pcp_request(0),  # ANNOUNCE
        pcp_request(5),  # unknown opcode
        pcp_request(2),  # PEER too short
    ],
)
def test_pcp_non_requests(payload: bytes) -> None:
    assert parse_natpmp_or_pcp(payload) is None


def test_other_ip_protocol_numbers() -> None:
    request = parse_natpmp_or_pcp(pcp_request(1, proto=47))
    assert request is not None and request.transport == "ip-47"
