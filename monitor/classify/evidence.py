"""Turn a classified flow into the records users see: findings and flow records."""

from __future__ import annotations

from monitor.classify.catalog import Endpoint
from monitor.flow.state import FlowState
from monitor.model import EndReason, Finding, FindingKind, FlowRecord, Verdict, proto_name


def _human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


def evidence_tail(answered: bool, flows: int, packets: int, size: int) -> str:
    """The end of a finding's evidence: whether answered, and how much traffic."""
    said = "answered" if answered else "no answer (attempt)"
    counted = f"{packets} packets, {_human_bytes(size)}"
    return f"{said}; {counted}" if flows == 1 else f"{said}; {flows} flows, {counted}"


def make_finding(
    flow: FlowState, kind: FindingKind, name: str | None, endpoint: Endpoint | None
) -> Finding:
    """A finding for ``flow`` with the evidence that proves it, using the flow's totals."""
    proto = proto_name(flow.proto)
    peer_port = flow.resp_port if flow.proto in (6, 17) else None
    peer_name = name if kind in (FindingKind.VENDOR_LOOKUP,) else (flow.peer_name or None)
    if kind == FindingKind.EXTERNAL_RESOLVER:
        queries = flow.observed("dns_query")
        peer_name = queries[0].value if queries else flow.peer_name
    vendor = endpoint.vendor if endpoint else None
    answered = flow.answered
    parts = [
        f"{flow.device} -> {flow.peer}:{peer_port}/{proto}"
        if peer_port is not None
        else f"{flow.device} -> {flow.peer} ({proto})"
    ]
    if kind == FindingKind.INBOUND:
        parts = [f"{flow.orig_addr} (outside) -> {flow.resp_addr}:{flow.resp_port}/{proto}"]
    if kind == FindingKind.EXTERNAL_RESOLVER and name:
        parts.append(name)
    if kind == FindingKind.VENDOR_LOOKUP:
        parts.append(f"DNS query for {name}, a {endpoint.name if endpoint else 'vendor'} name")
    for obs in flow.observed("upnp_mapping") if kind == FindingKind.UPNP_PORT_MAPPING else []:
        parts.append(f"{obs.value} request {obs.detail}".strip())
    if kind in (FindingKind.VENDOR_CLOUD, FindingKind.EGRESS, FindingKind.INBOUND):
        parts.extend(flow.reasons)
        if flow.peer_name and kind == FindingKind.EGRESS:
            parts.append(f"peer name {flow.peer_name}")
    parts.append(evidence_tail(answered, 1, flow.packets, flow.bytes))
    return Finding(
        kind=kind,
        device=flow.device,
        peer=flow.peer,
        peer_port=peer_port,
        proto=proto,
        peer_name=peer_name,
        vendor=vendor,
        endpoint=endpoint.name if endpoint else None,
        answered=answered,
        first_ts=flow.first_ts,
        last_ts=flow.last_ts,
        packets=flow.packets,
        bytes=flow.bytes,
        evidence="; ".join(parts),
        flow_uid=flow.uid,
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
    )
