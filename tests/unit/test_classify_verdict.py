"""The verdict rules, one case per rule and per tie-break, built from flow states.

These do not go through captures: each case is a FlowState as the flow table would leave
it (originator, responder, ports, observations) and the verdict, device, peer and findings
the documented rule order gives it (``monitor/classify/verdict.py``, README "Findings").
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pytest

from monitor.classify.catalog import load_catalog
from monitor.classify.names import NameCache
from monitor.classify.verdict import Classifier
from monitor.config import AllowRule, DeviceEntry, Policy, Services, default_policy
from monitor.flow.state import FlowState, Observation
from monitor.model import IPPROTO_TCP, IPPROTO_UDP, FindingKind, Verdict

CATALOG = load_catalog()
CAM, CAM2, NVR, DNS_IN = "10.20.1.11", "10.20.1.12", "10.20.0.5", "10.20.0.53"
OUT, OUT2 = "198.51.100.7", "203.0.113.9"
HIK = "47.91.88.171"  # a catalogued hik-connect address
NET = ipaddress.ip_network


def site(
    allow: tuple[AllowRule, ...] = (),
    dns: tuple[str, ...] = (),
    closed: tuple[str, ...] = ("10.20.0.0/16",),
) -> Policy:
    """A site policy with one closed network, an NVR and a camera in the inventory."""
    return Policy(
        site="test",
        closed_networks=tuple(NET(c) for c in closed),
        devices=(
            DeviceEntry(ip=NVR, name="nvr-1", role="recorder"),
            DeviceEntry(ip=CAM, name="cam-1", role="camera"),
        ),
        services=Services(dns=tuple(NET(d) for d in dns)),
        allow=allow,
    )


@dataclass
class Case:
    """One flow (originator first) and what the rules must make of it."""

    orig: str
    oport: int
    resp: str
    rport: int
    proto: int = IPPROTO_TCP
    observations: list[tuple[str, str]] = field(default_factory=list)
    policy: Policy = field(default_factory=site)
    learned: tuple[str, str] | None = None  # (address, name) a DNS answer gave earlier

    def flow(self) -> FlowState:
        f = FlowState(
            key=1, uid="F1", proto=self.proto, orig_addr=self.orig, orig_port=self.oport,
            resp_addr=self.resp, resp_port=self.rport, orig_is_low=True, first_ts=100.0,
            last_ts=101.0, orig_pkts=3, resp_pkts=2,
        )  # fmt: skip
        f.observations = [Observation(100.0, what, value) for what, value in self.observations]
        return f

    def classifier(self) -> Classifier:
        names = NameCache()
        if self.learned is not None:
            addr, name = self.learned
            names.learn(addr, name, name, 300, 50.0)
        return Classifier(self.policy, CATALOG, names)


ALLOW_CAM_OUT = AllowRule(src=NET(CAM), dst=NET(OUT), ports=((443, 443),), proto="tcp")
ALLOW_OUT_CAM = AllowRule(src=NET(OUT), dst=NET(CAM), ports=((554, 554),), proto="tcp")

# name: (case, verdict, device, peer)
VERDICTS = {
    "local to local is internal": (Case(NVR, 50000, CAM, 554), Verdict.INTERNAL, NVR, CAM),
    "local, the inventory device is the device side": (
        Case("10.20.9.9", 50000, CAM, 554), Verdict.INTERNAL, CAM, "10.20.9.9",
    ),
    "multicast to a discovery port is discovery": (
        Case(CAM, 37020, "239.255.255.250", 37020, IPPROTO_UDP), Verdict.DISCOVERY, CAM,
        "239.255.255.250",
    ),
    "a discovery dissection makes a local TCP flow discovery": (
        Case(NVR, 50000, CAM, 8000, observations=[("discovery", "sadp")]), Verdict.DISCOVERY,
        NVR, CAM,
    ),
    "UDP to a never-outside address off the closed networks is discovery": (
        Case(CAM, 40000, "169.254.1.1", 9999, IPPROTO_UDP), Verdict.DISCOVERY, CAM,
        "169.254.1.1",
    ),
    "DNS to a listed resolver is service": (
        Case(CAM, 40000, DNS_IN, 53, IPPROTO_UDP, policy=site(dns=(DNS_IN,))), Verdict.SERVICE,
        CAM, DNS_IN,
    ),
    "DNS to an unlisted local resolver is internal": (
        Case(CAM, 40000, NVR, 53, IPPROTO_UDP, policy=site(dns=(DNS_IN,))), Verdict.INTERNAL,
        CAM, NVR,
    ),
    "an allow rule makes outbound internal": (
        Case(CAM, 50000, OUT, 443, policy=site(allow=(ALLOW_CAM_OUT,))), Verdict.INTERNAL, CAM,
        OUT,
    ),
    "an allow rule on another port does not": (
        Case(CAM, 50000, OUT, 8443, policy=site(allow=(ALLOW_CAM_OUT,))), Verdict.EGRESS, CAM,
        OUT,
    ),
    "an allow rule for tcp does not cover udp": (
        Case(CAM, 50000, OUT, 443, IPPROTO_UDP, policy=site(allow=(ALLOW_CAM_OUT,))),
        Verdict.EGRESS, CAM, OUT,
    ),
    "an allow rule is directional": (
        Case(OUT, 50000, CAM, 443, policy=site(allow=(ALLOW_CAM_OUT,))), Verdict.INBOUND, CAM,
        OUT,
    ),
    "allow wins over inbound": (
        Case(OUT, 50000, CAM, 554, policy=site(allow=(ALLOW_OUT_CAM,))), Verdict.INTERNAL, CAM,
        OUT,
    ),
    "outside to a camera is inbound": (Case(OUT, 50000, CAM, 554), Verdict.INBOUND, CAM, OUT),
    "inbound wins over a vendor attribution": (
        Case(HIK, 50000, CAM, 554, observations=[("sni", "dev.hik-connect.com")]),
        Verdict.INBOUND, CAM, HIK,
    ),
    "SNI of a catalogued name is vendor_cloud": (
        Case(CAM, 50000, OUT, 443, observations=[("sni", "litedev.hik-connect.com")]),
        Verdict.VENDOR_CLOUD, CAM, OUT,
    ),
    "a catalogued address is vendor_cloud": (
        Case(CAM, 50000, HIK, 443), Verdict.VENDOR_CLOUD, CAM, HIK,
    ),
    "a name learned from a DNS answer is vendor_cloud": (
        Case(CAM, 50000, OUT2, 443, learned=(OUT2, "dev.hik-connect.com")), Verdict.VENDOR_CLOUD,
        CAM, OUT2,
    ),
    "a distinctive server port is vendor_cloud": (
        Case(CAM, 50000, OUT, 6500), Verdict.VENDOR_CLOUD, CAM, OUT,
    ),
    "a distinctive port on the device side is not": (
        Case(OUT, 6500, CAM, 50000), Verdict.INBOUND, CAM, OUT,
    ),
    "a payload signature is vendor_cloud": (
        Case(CAM, 50000, OUT, 9000, observations=[("signature", "dahua-p2p")]),
        Verdict.VENDOR_CLOUD, CAM, OUT,
    ),
    "anything else outbound is egress": (Case(CAM, 50000, OUT, 443), Verdict.EGRESS, CAM, OUT),
    "an unknown name is egress": (
        Case(CAM, 50000, OUT, 443, observations=[("sni", "example.org")]), Verdict.EGRESS, CAM,
        OUT,
    ),
    "a private address off the site's closed networks is outside": (
        Case(CAM, 50000, "192.168.7.7", 443), Verdict.EGRESS, CAM, "192.168.7.7",
    ),
    "multicast is never outside, whatever the policy": (
        Case(CAM, 40000, "239.1.2.3", 5000, IPPROTO_UDP), Verdict.DISCOVERY, CAM, "239.1.2.3",
    ),
    "limited broadcast is never outside": (
        Case(CAM, 68, "255.255.255.255", 67, IPPROTO_UDP), Verdict.DISCOVERY, CAM,
        "255.255.255.255",
    ),
    "neither end closed is egress from the originator": (
        Case(OUT, 50000, OUT2, 443), Verdict.EGRESS, OUT, OUT2,
    ),
    "IPv6 outbound is egress": (
        Case("fd00::11", 50000, "2001:db8::7", 443, policy=site(closed=("fd00::/8",))),
        Verdict.EGRESS, "fd00::11", "2001:db8::7",
    ),
    "IPv6 link-local is never outside": (
        Case("fd00::11", 50000, "fe80::1", 80, policy=site(closed=("fd00::/8",))),
        Verdict.INTERNAL, "fd00::11", "fe80::1",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(VERDICTS))
def test_verdict_rules(name: str) -> None:
    case, verdict, device, peer = VERDICTS[name]
    flow = case.flow()
    case.classifier().classify(flow)
    assert (flow.verdict, flow.device, flow.peer) == (verdict, device, peer), name


def test_allowed_flows_say_so_in_their_reasons() -> None:
    case = Case(CAM, 50000, OUT, 443, policy=site(allow=(ALLOW_CAM_OUT,)))
    flow = case.flow()
    case.classifier().classify(flow)
    assert "allowed by the site policy" in flow.reasons


def test_vendor_attribution_names_endpoint_vendor_and_how() -> None:
    case = Case(CAM, 50000, OUT, 443, observations=[("sni", "litedev.hik-connect.com")])
    flow = case.flow()
    case.classifier().classify(flow)
    assert (flow.vendor, flow.endpoint, flow.peer_name) == (
        "hikvision",
        "hik-connect",
        "litedev.hik-connect.com",
    )
    assert flow.reasons == ["sni litedev.hik-connect.com is hik-connect"]


def test_a_sni_outranks_a_learned_name_and_an_address() -> None:
    case = Case(
        CAM, 50000, HIK, 443, observations=[("sni", "www.easy4ipcloud.com")],
        learned=(HIK, "dev.hik-connect.com"),
    )  # fmt: skip
    flow = case.flow()
    case.classifier().classify(flow)
    assert (flow.endpoint, flow.peer_name) == ("dahua-p2p", "www.easy4ipcloud.com")


def test_an_expired_dns_answer_no_longer_attributes() -> None:
    case = Case(CAM, 50000, OUT2, 443, learned=(OUT2, "dev.hik-connect.com"))
    flow = case.flow()
    flow.first_ts = 50.0 + 300 + NameCache().grace + 1
    case.classifier().classify(flow)
    assert flow.verdict == Verdict.EGRESS


def _findings(case: Case) -> list[tuple[FindingKind, str | None]]:
    flow = case.flow()
    classifier = case.classifier()
    classifier.classify(flow)
    return [(kind, name) for kind, name, _ in classifier.findings(flow)]


FINDINGS = {
    "egress": (Case(CAM, 50000, OUT, 443), [(FindingKind.EGRESS, None)]),
    "inbound": (Case(OUT, 50000, CAM, 554), [(FindingKind.INBOUND, None)]),
    "vendor cloud only, not also egress": (
        Case(CAM, 50000, OUT, 443, observations=[("sni", "litedev.hik-connect.com")]),
        [(FindingKind.VENDOR_CLOUD, "litedev.hik-connect.com")],
    ),
    "internal raises nothing": (Case(NVR, 50000, CAM, 554), []),
    "allowed raises nothing": (Case(CAM, 50000, OUT, 443, policy=site(allow=(ALLOW_CAM_OUT,))), []),
    "DNS to an outside resolver": (
        Case(CAM, 40000, "8.8.8.8", 53, IPPROTO_UDP),
        [(FindingKind.EXTERNAL_RESOLVER, "DNS to 8.8.8.8, outside the closed networks")],
    ),
    "DoT to an outside resolver": (
        Case(CAM, 40000, "1.1.1.1", 853),
        [(FindingKind.EXTERNAL_RESOLVER, "DoT to 1.1.1.1, outside the closed networks")],
    ),
    "DoH by name": (
        Case(CAM, 40000, OUT, 443, observations=[("sni", "dns.google")]),
        [(FindingKind.EXTERNAL_RESOLVER, f"DoH to {OUT}, outside the closed networks")],
    ),
    "DoH by a public resolver address": (
        Case(CAM, 40000, "9.9.9.9", 443),
        [(FindingKind.EXTERNAL_RESOLVER, "DoH to 9.9.9.9, outside the closed networks")],
    ),
    "HTTPS to an unknown host is not DoH": (
        Case(CAM, 40000, OUT, 443), [(FindingKind.EGRESS, None)],
    ),
    "DNS to an unlisted local resolver when resolvers are listed": (
        Case(CAM, 40000, NVR, 53, IPPROTO_UDP, policy=site(dns=(DNS_IN,))),
        [(FindingKind.EXTERNAL_RESOLVER, f"DNS to {NVR}, not a listed DNS service")],
    ),
    "DNS to a local resolver when none are listed": (Case(CAM, 40000, NVR, 53, IPPROTO_UDP), []),
    "DNS to the listed resolver": (
        Case(CAM, 40000, DNS_IN, 53, IPPROTO_UDP, policy=site(dns=(DNS_IN,))), [],
    ),
    "DNS answered by a device is not resolver use": (
        Case(OUT, 40000, CAM, 53, IPPROTO_UDP), [(FindingKind.INBOUND, None)],
    ),
    "a vendor lookup to the listed resolver": (
        Case(
            CAM, 40000, DNS_IN, 53, IPPROTO_UDP,
            observations=[
                ("dns_query", "dev.hik-connect.com"), ("dns_query", "www.easy4ipcloud.com"),
            ],
            policy=site(dns=(DNS_IN,)),
        ),
        [(FindingKind.VENDOR_LOOKUP, "dev.hik-connect.com")],
    ),
    "a lookup of an unknown name is nothing": (
        Case(
            CAM, 40000, DNS_IN, 53, IPPROTO_UDP, observations=[("dns_query", "example.org")],
            policy=site(dns=(DNS_IN,)),
        ),
        [],
    ),
    "a vendor lookup to an outside resolver is both": (
        Case(
            CAM, 40000, "8.8.8.8", 53, IPPROTO_UDP,
            observations=[("dns_query", "hik-connect.com")],
        ),
        [
            (FindingKind.EXTERNAL_RESOLVER, "DNS to 8.8.8.8, outside the closed networks"),
            (FindingKind.VENDOR_LOOKUP, "hik-connect.com"),
        ],
    ),
    "a UPnP port mapping": (
        Case(CAM, 40000, "10.20.0.1", 1900, observations=[("upnp_mapping", "554")]),
        [(FindingKind.UPNP_PORT_MAPPING, None)],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(FINDINGS))
def test_finding_rules(name: str) -> None:
    case, expected = FINDINGS[name]
    assert _findings(case) == expected, name


def test_the_default_policy_closes_private_ranges() -> None:
    case = Case(CAM, 50000, "192.168.7.7", 443, policy=default_policy())
    flow = case.flow()
    case.classifier().classify(flow)
    assert flow.verdict == Verdict.INTERNAL
