"""The verdict of a flow and the findings it raises: pure rules over flow state.

Rule order (first match wins for the verdict):

1. both ends local (closed network, or multicast/broadcast/link-local/loopback):
   ``discovery`` (discovery ports or a discovery dissection), else ``service`` (DNS/NTP/
   DHCP/syslog to a listed service), else ``internal``;
2. a policy ``allow`` rule covers the flow: ``internal``;
3. started from outside towards the closed side: ``inbound``;
4. attributed to a catalogued vendor endpoint (TLS/QUIC SNI, HTTP Host, a DNS answer
   seen earlier, the server's certificate, a catalogued address, a payload signature, a
   distinctive port):
   ``vendor_cloud``;
5. otherwise ``egress``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from monitor.classify.catalog import Endpoint, VendorCatalog
from monitor.classify.names import CERTIFICATE_NAMED, NameCache, certificate_names
from monitor.classify.networks import never_outside
from monitor.config import Policy
from monitor.flow.state import FlowState
from monitor.model import IPPROTO_TCP, IPPROTO_UDP, FindingKind, Verdict

DISCOVERY_PORTS = frozenset(
    {
        3702,
        1900,
        5353,
        37020,
        37810,
        5050,
        34569,
        10001,
        7701,
        7711,
        2015,
        2018,
        32108,
        5355,
        137,
        138,
    }
)
SERVICE_PORTS = {53: "dns", 853: "dns", 123: "ntp", 67: "dhcp", 68: "dhcp", 514: "syslog"}
NAME_OBSERVATIONS = ("sni", "quic_sni", "http_host")
ALLOWED_REASON = "allowed by the site policy"


class Attribution(NamedTuple):
    """Who a peer belongs to, and how we know (a tuple: one is made per flow settled)."""

    peer_name: str | None
    endpoint: Endpoint | None
    how: str


@dataclass(slots=True)
class Classifier:
    """Applies the site policy and the vendor catalog to flows."""

    policy: Policy
    catalog: VendorCatalog
    names: NameCache

    def classify(self, flow: FlowState) -> None:
        """Fill the verdict, device/peer and attribution fields of ``flow``."""
        o, r = flow.orig_addr, flow.resp_addr
        o_closed, r_closed = self.policy.is_closed(o), self.policy.is_closed(r)
        o_local = o_closed or never_outside(o)
        r_local = r_closed or never_outside(r)
        flow.reasons = []
        if o_local and r_local:
            device_is_orig = o_closed and not (
                r_closed and self.policy.device_for(r) and not self.policy.device_for(o)
            )
            self._set_sides(flow, device_is_orig)
            flow.verdict = self._local_verdict(flow)
            self._attribute(flow)
            return
        if not o_local and not r_local:
            flow.reasons.append("neither endpoint is in the closed networks")
        self._set_sides(flow, device_is_orig=o_local or not r_local)
        attribution = self._attribute(flow)
        if self._allowed(flow):
            flow.verdict = Verdict.INTERNAL
            flow.reasons.append(ALLOWED_REASON)
        elif flow.device == r and not o_local:
            flow.verdict = Verdict.INBOUND
        elif attribution.endpoint is not None:
            flow.verdict = Verdict.VENDOR_CLOUD
        else:
            flow.verdict = Verdict.EGRESS

    def _set_sides(self, flow: FlowState, device_is_orig: bool) -> None:
        flow.device = flow.orig_addr if device_is_orig else flow.resp_addr
        flow.peer = flow.resp_addr if device_is_orig else flow.orig_addr

    def _local_verdict(self, flow: FlowState) -> Verdict:
        if _has(flow, "discovery") or (
            flow.proto == IPPROTO_UDP
            and (flow.resp_port in DISCOVERY_PORTS or flow.orig_port in DISCOVERY_PORTS)
        ):
            return Verdict.DISCOVERY
        kind = SERVICE_PORTS.get(flow.resp_port)
        if kind and self.policy.is_service(kind, flow.resp_addr):
            return Verdict.SERVICE
        if (
            flow.proto == IPPROTO_UDP
            and never_outside(flow.resp_addr)
            and not (self.policy.is_closed(flow.resp_addr))
        ):
            return Verdict.DISCOVERY
        return Verdict.INTERNAL

    def _allowed(self, flow: FlowState) -> bool:
        proto = "tcp" if flow.proto == IPPROTO_TCP else "udp" if flow.proto == IPPROTO_UDP else ""
        return self.policy.allowed(flow.orig_addr, flow.resp_addr, proto, flow.resp_port)

    def _attribute(self, flow: FlowState) -> Attribution:
        attribution = self.attribute(flow)
        flow.peer_name = attribution.peer_name
        if attribution.endpoint is not None:
            flow.vendor = attribution.endpoint.vendor
            flow.endpoint = attribution.endpoint.name
        if attribution.how:
            flow.reasons.append(attribution.how)
        return attribution

    def attribute(self, flow: FlowState) -> Attribution:
        """Name the peer and match it against the catalog, strongest evidence first."""
        observations = flow.observations
        named = [o for o in observations if o.what in NAME_OBSERVATIONS]
        learned = self.names.lookup(flow.peer, flow.first_ts)
        peer_name = named[0].value if named else (learned.query if learned else None)
        match_name = self.catalog.match_name
        for obs in named:
            ep = match_name(obs.value)
            if ep is not None:
                return Attribution(obs.value, ep, f"{obs.what} {obs.value} is {ep.name}")
        if learned is not None:
            for name in (learned.query, learned.name):
                ep = match_name(name)
                if ep is not None:
                    return Attribution(
                        peer_name or name, ep, f"DNS answer for {name} gave {flow.peer} ({ep.name})"
                    )
        certified = certificate_names(flow)  # the last name source: SNI, Host, DNS go first
        for name in certified:
            ep = match_name(name.removeprefix("*."))
            if ep is not None:
                how = f"{CERTIFICATE_NAMED}: {name} belongs to {ep.name}"
                return Attribution(peer_name or name, ep, how)
        how = f"{CERTIFICATE_NAMED}: {certified[0]}" if certified and not peer_name else ""
        peer_name = peer_name or (certified[0] if certified else None)
        ep = self.catalog.match_address(flow.peer)
        if ep is not None:
            return Attribution(peer_name, ep, f"{flow.peer} is a catalogued {ep.name} address")
        for obs in observations:
            if obs.what != "signature":
                continue
            ep = self.catalog.endpoint(obs.value)
            if ep is not None:
                return Attribution(peer_name, ep, f"payload signature of {ep.name}")
        proto = "tcp" if flow.proto == IPPROTO_TCP else "udp"
        ep = self.catalog.match_port(proto, flow.resp_port) if flow.peer == flow.resp_addr else None
        if ep is not None:
            return Attribution(peer_name, ep, f"port {flow.resp_port}/{proto} of {ep.name}")
        return Attribution(peer_name, None, how)

    def findings(self, flow: FlowState) -> list[tuple[FindingKind, str | None, Endpoint | None]]:
        """The findings ``flow`` raises now: (kind, name, endpoint) per finding."""
        out: list[tuple[FindingKind, str | None, Endpoint | None]] = []
        resolver = self._resolver_use(flow)
        if resolver is not None:
            out.append((FindingKind.EXTERNAL_RESOLVER, resolver, None))
        elif flow.verdict == Verdict.VENDOR_CLOUD:
            out.append(
                (
                    FindingKind.VENDOR_CLOUD,
                    flow.peer_name,
                    self.catalog.endpoint(flow.endpoint or ""),
                )
            )
        elif flow.verdict in (Verdict.EGRESS, Verdict.INBOUND):
            out.append((FindingKind(flow.verdict), flow.peer_name, None))  # same text
        for obs in flow.observations:
            if obs.what != "dns_query":
                continue
            ep = self.catalog.match_name(obs.value)
            if ep is not None:
                out.append((FindingKind.VENDOR_LOOKUP, obs.value, ep))
                break
        if _has(flow, "upnp_mapping"):
            out.append((FindingKind.UPNP_PORT_MAPPING, None, None))
        return out

    def _resolver_use(self, flow: FlowState) -> str | None:
        """Why this flow is DNS/DoT/DoH to a resolver it should not use, or None."""
        if flow.device != flow.orig_addr or flow.verdict == Verdict.INBOUND:
            return None
        port, peer = flow.resp_port, flow.resp_addr
        dns_like = port in (53, 853) and flow.proto in (IPPROTO_TCP, IPPROTO_UDP)
        if not dns_like and port != 443:  # neither DNS nor DoH (the usual flow)
            return None
        names = [o.value for o in flow.observations if o.what in ("sni", "quic_sni")]
        doh = port == 443 and (
            any(self.catalog.is_doh_name(n) for n in names) or self.catalog.is_public_resolver(peer)
        )
        if not (dns_like or doh):
            return None
        label = "DoT" if port == 853 else "DoH" if doh else "DNS"
        if not self.policy.is_closed(peer) and not never_outside(peer):
            return f"{label} to {peer}, outside the closed networks"
        if dns_like and self.policy.has_services("dns") and not self.policy.is_service("dns", peer):
            return f"{label} to {peer}, not a listed DNS service"
        return None


def _has(flow: FlowState, what: str) -> bool:
    """Whether ``flow`` has an observation of kind ``what`` (``observed`` without the list)."""
    for o in flow.observations:  # noqa: SIM110 - a third of any()'s time, once per flow
        if o.what == what:
            return True
    return False
