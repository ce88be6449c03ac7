"""A finding's evidence reads as plain text: no Python reprs, correct plurals, clear ports."""

from __future__ import annotations

from monitor.classify.evidence import describe_mapping, evidence_tail, plain_reason
from monitor.decode.natpmp import MappingRequest
from monitor.decode.upnp import PortMappingRequest
from monitor.text import plural


def test_counts_are_pluralised() -> None:
    assert evidence_tail(False, 1, 1, 83) == "no answer (attempt); 1 packet, 83 B"
    assert evidence_tail(True, 2, 4, 505) == "answered; 2 flows, 4 packets, 505 B"
    assert evidence_tail(True, 1, 1_000, 5_196) == "answered; 1,000 packets, 5.1 KiB"
    assert plural(1, "address", "addresses") == "1 address"
    assert plural(3, "address", "addresses") == "3 addresses"


def test_upnp_request_in_words() -> None:
    m = PortMappingRequest(
        action="AddPortMapping",
        service="WANIPConnection",
        external_port=8000,
        internal_port=8000,
        internal_client="10.20.1.11",
        protocol="TCP",
        description="HIKVISION 10.20.1.11:8000 TCP",
        lease_duration=0,
        remote_host=None,
    )
    text = describe_mapping(m)
    assert text == (
        "UPnP AddPortMapping (WANIPConnection) to forward external port 8000/tcp to "
        '10.20.1.11 port 8000/tcp, described as "HIKVISION 10.20.1.11:8000 TCP", '
        "lease no time limit"
    )
    assert "PortMappingRequest(" not in text and "=None" not in text


def test_upnp_pinhole_with_unknown_fields() -> None:
    m = PortMappingRequest("AddPinhole", None, None, 80, None, "tcp", None, 1, "2001:db8::1")
    assert describe_mapping(m) == (
        "UPnP AddPinhole to open a pinhole to ? port 80/tcp, for 2001:db8::1 only, lease 1 second"
    )


def test_natpmp_and_pcp_requests_in_words() -> None:
    natpmp = MappingRequest("nat-pmp", "map", "tcp", 37777, 37777, 7200)
    assert describe_mapping(natpmp) == (
        "NAT-PMP request to map external port 37777 to internal port 37777/tcp for 7,200 seconds"
    )
    delete = MappingRequest("nat-pmp", "map", "udp", 5000, 0, 0)
    assert describe_mapping(delete) == (
        "NAT-PMP request to delete the mapping of internal port 5000/udp"
    )
    peer = MappingRequest(
        "pcp", "peer", "tcp", 554, 554, 60, "10.20.1.13", "198.51.100.1", "2001:db8::7", 443
    )
    assert describe_mapping(peer) == (
        "PCP PEER request to map external port 554 on 198.51.100.1 to internal port 554/tcp "
        "of 10.20.1.13 for 60 seconds, peer 2001:db8::7 port 443/tcp"
    )


def test_classifier_reasons_read_as_words() -> None:
    assert plain_reason("sni eucas.ezvizlife.com is ezviz-cas") == (
        "TLS SNI eucas.ezvizlife.com belongs to ezviz-cas"
    )
    assert plain_reason("quic_sni a.example is x") == "QUIC SNI a.example belongs to x"
    assert plain_reason("http_host h.example is y") == "HTTP Host h.example belongs to y"
    kept = "DNS answer for a.example gave 192.0.2.1 (x)"
    assert plain_reason(kept) == kept
