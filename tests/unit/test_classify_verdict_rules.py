"""The verdict rules' details: which protocol an allow rule or a catalogued port covers,
what the peer is called, the reason a verdict gives, and which side may use a resolver.

Same flow-state cases as test_classify_verdict.py; these pin what the report shows for a
flow beyond its verdict (``peer_name``, ``vendor``, ``reasons``, a finding's endpoint).
"""

from __future__ import annotations

import pytest

from monitor.config import AllowRule
from monitor.model import IPPROTO_TCP, IPPROTO_UDP, FindingKind, Verdict
from tests.unit.test_classify_verdict import (
    CAM,
    DNS_IN,
    HIK,
    NET,
    NVR,
    OUT,
    OUT2,
    Case,
    site,
)

IPPROTO_ICMP = 1


def _classified(case: Case):  # type: ignore[no-untyped-def]
    flow = case.flow()
    case.classifier().classify(flow)
    return flow


def _allow(proto: str, ports: tuple[tuple[int, int], ...] = ()) -> AllowRule:
    return AllowRule(src=NET(CAM), dst=NET(OUT), ports=ports, proto=proto)


@pytest.mark.parametrize(
    ("rule", "proto", "verdict"),
    [
        (_allow("udp", ((5000, 5000),)), IPPROTO_UDP, Verdict.INTERNAL),
        (_allow("udp", ((5000, 5000),)), IPPROTO_TCP, Verdict.EGRESS),
        (_allow("udp"), IPPROTO_ICMP, Verdict.EGRESS),
        (_allow("tcp"), IPPROTO_ICMP, Verdict.EGRESS),
        (_allow("any"), IPPROTO_ICMP, Verdict.INTERNAL),
    ],
    ids=["udp rule, udp flow", "udp rule, tcp flow", "udp rule, icmp", "tcp rule, icmp",
         "any-protocol rule, icmp"],
)  # fmt: skip
def test_an_allow_rule_covers_only_its_protocol(
    rule: AllowRule, proto: int, verdict: Verdict
) -> None:
    case = Case(CAM, 40000, OUT, 5000, proto, policy=site(allow=(rule,)))
    assert _classified(case).verdict == verdict


@pytest.mark.parametrize(("proto", "verdict"), [(IPPROTO_UDP, Verdict.DISCOVERY),
                                                (IPPROTO_TCP, Verdict.INTERNAL)])  # fmt: skip
def test_discovery_ports_make_local_udp_discovery_but_not_tcp(proto: int, verdict: Verdict) -> None:
    """Rule 1: a discovery port makes a local UDP flow discovery; TCP to it stays internal."""
    assert _classified(Case(NVR, 37020, CAM, 37020, proto)).verdict == verdict


def test_the_reason_says_when_neither_end_is_closed() -> None:
    neither = _classified(Case(OUT, 50000, OUT2, 443))
    assert neither.reasons == ["neither endpoint is in the closed networks"]
    inbound = _classified(Case(OUT, 50000, CAM, 554))
    assert inbound.reasons == []


def test_an_unknown_name_is_still_the_peer_name() -> None:
    """An SNI that matches no vendor names the peer of an egress flow (and its finding)."""
    case = Case(CAM, 50000, OUT, 443, observations=[("sni", "files.example.org")])
    flow = _classified(case)
    assert (flow.verdict, flow.peer_name, flow.reasons) == (
        Verdict.EGRESS,
        "files.example.org",
        [],
    )
    assert case.classifier().findings(flow) == [(FindingKind.EGRESS, "files.example.org", None)]


def test_a_learned_unknown_name_is_the_peer_name() -> None:
    flow = _classified(Case(CAM, 50000, OUT2, 443, learned=(OUT2, "files.example.org")))
    assert (flow.verdict, flow.peer_name) == (Verdict.EGRESS, "files.example.org")


def test_a_dns_answer_attribution_names_the_query_and_says_how() -> None:
    case = Case(CAM, 50000, OUT2, 443)
    classifier = case.classifier()
    # the camera asked for cam.example.org, a CNAME of a catalogued vendor name
    classifier.names.learn(OUT2, "dev.hik-connect.com", "cam.example.org", 300, 50.0)
    flow = case.flow()
    classifier.classify(flow)
    assert flow.verdict == Verdict.VENDOR_CLOUD
    assert flow.peer_name == "cam.example.org"
    assert flow.reasons == [f"DNS answer for dev.hik-connect.com gave {OUT2} (hik-connect)"]


def test_a_learned_vendor_name_is_the_peer_name() -> None:
    flow = _classified(Case(CAM, 50000, OUT2, 443, learned=(OUT2, "dev.hik-connect.com")))
    assert flow.peer_name == "dev.hik-connect.com"
    assert flow.reasons == [f"DNS answer for dev.hik-connect.com gave {OUT2} (hik-connect)"]


ATTRIBUTIONS = {
    "catalogued address": (
        Case(CAM, 50000, HIK, 443, observations=[("sni", "files.example.org")]),
        "hik-connect", [f"{HIK} is a catalogued hik-connect address"],
    ),
    "payload signature": (
        Case(CAM, 50000, OUT, 9000, observations=[("http_host", "files.example.org"),
                                                  ("signature", "dahua-p2p")]),
        "dahua-p2p", ["payload signature of dahua-p2p"],
    ),
    "distinctive tcp port": (
        Case(CAM, 50000, OUT, 6500, observations=[("sni", "files.example.org")]),
        "ezviz-cas", ["port 6500/tcp of ezviz-cas"],
    ),
    "distinctive udp port": (
        Case(CAM, 50000, OUT, 6000, IPPROTO_UDP, observations=[("quic_sni", "files.example.org")]),
        "ezviz-p2p", ["port 6000/udp of ezviz-p2p"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(ATTRIBUTIONS))
def test_weaker_attributions_keep_the_peer_name_and_say_how(name: str) -> None:
    case, endpoint, reasons = ATTRIBUTIONS[name]
    flow = _classified(case)
    assert (flow.verdict, flow.endpoint) == (Verdict.VENDOR_CLOUD, endpoint)
    assert flow.peer_name == "files.example.org"
    assert flow.reasons == reasons


def test_a_udp_vendor_port_is_not_a_tcp_one() -> None:
    """ezviz-p2p is UDP 6000; TCP to port 6000 of an unknown host is plain egress."""
    assert _classified(Case(CAM, 50000, OUT, 6000, IPPROTO_TCP)).verdict == Verdict.EGRESS


def test_a_vendor_port_on_the_device_side_attributes_nothing() -> None:
    """Inbound to a camera's port 6500: the port is the camera's, not a vendor server's."""
    flow = _classified(Case(OUT, 50000, CAM, 6500))
    assert (flow.verdict, flow.vendor, flow.endpoint, flow.reasons) == (
        Verdict.INBOUND,
        None,
        None,
        [],
    )


def test_a_vendor_cloud_finding_carries_the_endpoint() -> None:
    case = Case(CAM, 50000, OUT, 443, observations=[("sni", "litedev.hik-connect.com")])
    flow = case.flow()
    classifier = case.classifier()
    classifier.classify(flow)
    ((kind, name, endpoint),) = classifier.findings(flow)
    assert (kind, name) == (FindingKind.VENDOR_CLOUD, "litedev.hik-connect.com")
    assert endpoint is not None
    assert (endpoint.name, endpoint.vendor) == ("hik-connect", "hikvision")


def test_doh_by_a_quic_sni_is_resolver_use() -> None:
    case = Case(CAM, 40000, OUT, 443, IPPROTO_UDP, observations=[("quic_sni", "dns.google")])
    flow = case.flow()
    classifier = case.classifier()
    classifier.classify(flow)
    assert classifier.findings(flow) == [
        (FindingKind.EXTERNAL_RESOLVER, f"DoH to {OUT}, outside the closed networks", None)
    ]


def test_a_device_answering_dns_on_the_closed_side_is_not_resolver_use() -> None:
    """A host asks the camera on port 53: the camera is the device and it only answers."""
    case = Case("10.20.9.9", 40000, CAM, 53, IPPROTO_UDP, policy=site(dns=(DNS_IN,)))
    flow = case.flow()
    classifier = case.classifier()
    classifier.classify(flow)
    assert (flow.verdict, flow.device) == (Verdict.INTERNAL, CAM)
    assert classifier.findings(flow) == []
