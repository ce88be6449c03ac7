"""Turn a classified flow into the records users see: findings and flow records.

A finding's ``evidence`` is plain text in clauses joined by ``"; "``: what went where,
why it is attributed, what a mapping request asked for, and a tail saying whether it was
answered and how much traffic it was (:func:`evidence_tail`). Counts are pluralised
("1 packet", "2 packets") and sizes use the report's binary units (KiB, MiB).
"""

from __future__ import annotations

import re
from typing import Any

from monitor.classify.catalog import Endpoint
from monitor.classify.names import CERTIFICATE_NAMED
from monitor.decode.natpmp import MappingRequest
from monitor.decode.upnp import PortMappingRequest
from monitor.flow.community_id import flow_community_id, flow_ref
from monitor.flow.state import FlowState
from monitor.model import EndReason, Finding, FindingKind, FlowRecord, Verdict, proto_name
from monitor.text import human_bytes, plural

# how the classifier names where a peer name came from, and how a reader says it
_NAME_SOURCES = {"sni": "TLS SNI", "quic_sni": "QUIC SNI", "http_host": "HTTP Host"}
_NAMED_BY = re.compile(r"^(sni|quic_sni|http_host) (\S+) is (\S+)$")


def evidence_tail(answered: bool, flows: int, packets: int, size: int) -> str:
    """The end of a finding's evidence: whether answered, and how much traffic."""
    said = "answered" if answered else "no answer (attempt)"
    counted = f"{plural(packets, 'packet')}, {human_bytes(size)}"
    return f"{said}; {counted}" if flows == 1 else f"{said}; {plural(flows, 'flow')}, {counted}"


def _where(host: str, port: int | None, proto: str) -> str:
    """``203.0.113.5 port 443/tcp`` (never ``2001:db8::1:443``), or ``... over icmp``."""
    return f"{host} port {port}/{proto}" if port is not None else f"{host} over {proto}"


def plain_reason(reason: str) -> str:
    """A classifier reason as a reader says it: ``sni a.example is x`` ->
    ``TLS SNI a.example belongs to x``; anything else unchanged."""
    named = _NAMED_BY.match(reason)
    if named is None:
        return reason
    what, name, endpoint = named.groups()
    return f"{_NAME_SOURCES[what]} {name} belongs to {endpoint}"


def describe_mapping(m: MappingRequest | PortMappingRequest) -> str:
    """What a UPnP IGD, NAT-PMP or PCP request asked the gateway to open, in words."""
    if isinstance(m, PortMappingRequest):
        return _describe_upnp(m)
    name = "NAT-PMP" if m.protocol == "nat-pmp" else f"PCP {m.opcode.upper()}"
    inner = f"internal port {m.internal_port}/{m.transport}"
    if m.client_ip:
        inner += f" of {m.client_ip}"
    if m.lifetime == 0:
        return f"{name} request to delete the mapping of {inner}"
    outer = f"external port {m.external_port}" + (f" on {m.external_ip}" if m.external_ip else "")
    text = f"{name} request to map {outer} to {inner} for {plural(m.lifetime, 'second')}"
    if m.remote_ip:
        text += f", peer {_where(m.remote_ip, m.remote_port, m.transport)}"
    return text


def _describe_upnp(m: PortMappingRequest) -> str:
    def known(value: object) -> str:
        return "?" if value is None else str(value)

    service = f" ({m.service})" if m.service else ""
    proto = known(m.protocol).lower()
    inner = f"{known(m.internal_client)} port {known(m.internal_port)}/{proto}"
    if m.action == "AddPinhole":
        text = f"UPnP AddPinhole{service} to open a pinhole to {inner}"
    else:
        outer = f"external port {known(m.external_port)}/{proto}"
        text = f"UPnP {m.action}{service} to forward {outer} to {inner}"
    if m.remote_host:
        text += f", for {m.remote_host} only"
    if m.description:
        text += f', described as "{m.description}"'
    if m.lease_duration is not None:
        lease = plural(m.lease_duration, "second") if m.lease_duration else "no time limit"
        text += f", lease {lease}"
    return text


def make_finding(
    flow: FlowState, kind: FindingKind, name: str | None, endpoint: Endpoint | None
) -> Finding:
    """A finding for ``flow`` with the evidence that proves it, using the flow's totals."""
    proto = proto_name(flow.proto)
    peer_port = flow.resp_port if flow.proto in (6, 17) else None
    # peer_name is the peer's own name; the name a DNS flow asked for is query_name.
    query_name = name if kind == FindingKind.VENDOR_LOOKUP else first_query(flow)
    vendor = endpoint.vendor if endpoint else None
    answered = flow.answered
    parts = [f"{flow.device} to {_where(flow.peer, peer_port, proto)}"]
    if kind == FindingKind.INBOUND:
        parts = [f"{flow.orig_addr} (outside) to {_where(flow.resp_addr, peer_port, proto)}"]
    if kind == FindingKind.EXTERNAL_RESOLVER and name:
        parts.append(name)
        if query_name:
            parts.append(f"query for {query_name}")
    if kind == FindingKind.VENDOR_LOOKUP:
        parts.append(f"DNS query for {name}, a {endpoint.name if endpoint else 'vendor'} name")
    for obs in flow.observed("upnp_mapping") if kind == FindingKind.UPNP_PORT_MAPPING else []:
        parts.append(obs.detail or f"{obs.value} request")
    if kind in (FindingKind.VENDOR_CLOUD, FindingKind.EGRESS, FindingKind.INBOUND):
        parts.extend(plain_reason(r) for r in flow.reasons)
        certified = any(r.startswith(CERTIFICATE_NAMED) for r in flow.reasons)
        if flow.peer_name and kind == FindingKind.EGRESS and not certified:
            parts.append(f"peer name {flow.peer_name}")
    parts.append(evidence_tail(answered, 1, flow.packets, flow.bytes))
    return Finding(
        kind=kind,
        device=flow.device,
        peer=flow.peer,
        peer_port=peer_port,
        proto=proto,
        peer_name=flow.peer_name or None,
        vendor=vendor,
        endpoint=endpoint.name if endpoint else None,
        answered=answered,
        first_ts=flow.first_ts,
        last_ts=flow.last_ts,
        packets=flow.packets,
        bytes=flow.bytes,
        evidence="; ".join(parts),
        flow_uid=flow.uid,
        query_name=query_name,
        **tls_fields(flow),
        flow_ref=flow_ref(flow),
    )


def make_record(flow: FlowState, reason: EndReason) -> FlowRecord:
    """The exported record of ``flow`` (of its current segment after an active timeout)."""
    first, op, ob, rp, rb = flow.segment_start or (flow.first_ts, 0, 0, 0, 0)
    return FlowRecord(
        uid=flow.uid,
        proto=proto_name(flow.proto),
        orig_addr=flow.orig_addr,
        orig_port=flow.orig_port,
        resp_addr=flow.resp_addr,
        resp_port=flow.resp_port,
        first_ts=first,
        last_ts=flow.last_ts,
        orig_pkts=flow.orig_pkts - op,
        orig_bytes=flow.orig_bytes - ob,
        resp_pkts=flow.resp_pkts - rp,
        resp_bytes=flow.resp_bytes - rb,
        state=flow.state(),
        verdict=Verdict(flow.verdict),
        device=flow.device,
        peer=flow.peer,
        peer_name=flow.peer_name,
        vendor=flow.vendor,
        endpoint=flow.endpoint,
        end_reason=reason,
        findings=tuple(FindingKind(k) for k in flow.finding_kinds),
        query_name=first_query(flow),
        **tls_fields(flow),
        community_id=flow_community_id(flow),
    )


def tls_fields(flow: FlowState) -> dict[str, Any]:
    """A TLS/QUIC flow's ja3, ja3s, ja4 and server certificate (those it showed), for a
    finding or a flow record; nothing for other flows."""
    tls = flow.tls
    if tls is None:
        return {}
    return {"ja3": tls.ja3, "ja3s": tls.ja3s, "ja4": tls.ja4, "tls_certificate": tls.certificate}


def first_query(flow: FlowState) -> str | None:
    """The first name a DNS flow asked for, None for any other flow."""
    for obs in flow.observations:
        if obs.what == "dns_query":
            return obs.value
    return None
