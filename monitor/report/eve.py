"""EVE JSON alert lines: findings in the event format of Suricata, for SIEM pipelines.

One line per finding (``event_type: "alert"``), valid under Suricata 7's EVE schema, so
that Elastic, Splunk, Wazuh, Security Onion or Graylog take it as they take Suricata's.
docs/eve.md says field by field what goes where; in short:

* the 5-tuple (``src_ip``/``src_port`` the originator, ``dest_*`` the responder, as
  Suricata), ``proto``, ``flow_id`` and ``community_id`` are those of the flow the finding
  cites (its ``flow_uid``: the first flow; for a summary finding, which folds many peers,
  the first flow folded in, and ``alert.metadata.five_tuple`` says so);
* ``alert.signature_id`` is fixed per finding kind (:data:`SIGNATURES`), with its
  ``signature``, ``category`` and ``severity`` (1 high, 3 low, as Suricata);
* ``alert.metadata`` carries the finding's own fields, each as an array of strings;
* ``tls``, ``quic``, ``dns`` and ``http`` objects carry the names the flow showed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from monitor.model import Finding, FindingKind, FlowRef

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Suricata's names of IP protocols ("proto"); any other is its number
PROTO_NAMES = {1: "ICMP", 6: "TCP", 17: "UDP", 47: "GRE", 50: "ESP", 51: "AH", 58: "IPv6-ICMP",
               132: "SCTP"}  # fmt: skip
ICMP_PROTOS = (1, 58)
# what the dissectors saw -> Suricata's app_proto
APP_PROTO = {"sni": "tls", "tls_no_sni": "tls", "quic_sni": "quic", "http_host": "http",
             "user_agent": "http", "dns_query": "dns"}  # fmt: skip
DNS_TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
             33: "SRV", 64: "SVCB", 65: "HTTPS", 255: "ANY"}  # fmt: skip


class Signature(NamedTuple):
    """The fixed rule words of one finding kind."""

    sid: int
    signature: str
    category: str
    severity: int  # 1 high, 2 medium, 3 low (Suricata's priorities)


GID = 1  # Suricata's generator id for rule alerts
REV = 1
SIGNATURES: dict[FindingKind, Signature] = {
    FindingKind.EGRESS: Signature(
        9_000_001, "CCTV-MONITOR closed-network host talked to an outside address",
        "Policy Violation: traffic leaves the closed network", 2,
    ),
    FindingKind.VENDOR_CLOUD: Signature(
        9_000_002, "CCTV-MONITOR device contacted a vendor cloud, P2P, DDNS or telemetry endpoint",
        "Policy Violation: vendor cloud contact", 1,
    ),
    FindingKind.VENDOR_LOOKUP: Signature(
        9_000_003, "CCTV-MONITOR DNS query for a catalogued vendor name",
        "Policy Violation: vendor name lookup", 3,
    ),
    FindingKind.EXTERNAL_RESOLVER: Signature(
        9_000_004, "CCTV-MONITOR DNS, DoT or DoH to a resolver that is not a listed service",
        "Policy Violation: unlisted DNS resolver", 2,
    ),
    FindingKind.UPNP_PORT_MAPPING: Signature(
        9_000_005, "CCTV-MONITOR UPnP IGD, PCP or NAT-PMP port mapping request",
        "Policy Violation: port mapping request", 1,
    ),
    FindingKind.INBOUND: Signature(
        9_000_006, "CCTV-MONITOR flow started from outside towards a device",
        "Policy Violation: inbound connection", 1,
    ),
}  # fmt: skip


def eve_time(ts: float) -> str:
    """UNIX seconds as Suricata writes them: ``2026-03-02T08:00:00.100000+0000`` (UTC)."""
    moment = EPOCH + timedelta(microseconds=round(ts * 1e6))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f+0000")


def eve_times(ts: npt.NDArray[np.float64]) -> list[str]:
    """:func:`eve_time` for many times at once."""
    micros = np.round(ts * 1e6).astype(np.int64).astype("datetime64[us]")
    return [t + "+0000" for t in np.datetime_as_string(micros, unit="us").tolist()]


def proto_text(proto: int) -> str:
    """Suricata's ``proto``: ``TCP``, ``UDP``, ``ICMP``, ``IPv6-ICMP``..., else the number."""
    return PROTO_NAMES.get(proto, str(proto))


def tuple_fields(ref: FlowRef) -> dict[str, Any]:
    """``src_ip``, ``src_port``, ``dest_ip``, ``dest_port``, ``proto`` (ICMP: ``icmp_type``
    and ``icmp_code`` instead of ports, when captured), ``community_id``."""
    out: dict[str, Any] = {"src_ip": ref.orig_addr}
    has_ports = ref.proto in (6, 17, 132)
    if has_ports:
        out["src_port"] = ref.orig_port
    out["dest_ip"] = ref.resp_addr
    if has_ports:
        out["dest_port"] = ref.resp_port
    out["proto"] = proto_text(ref.proto)
    if ref.proto in ICMP_PROTOS and ref.community_id is not None:
        out["icmp_type"], out["icmp_code"] = ref.orig_port, ref.resp_port
    if ref.community_id is not None:
        out["community_id"] = ref.community_id
    return out


def alert_event(
    f: Finding, host: str, *, record: str = "finding", count: int | None = None
) -> dict[str, Any]:
    """The EVE alert of finding ``f`` (``host``: the site). ``record`` and ``count`` are the
    alert log's (live: ``summary``, and how many findings the line stands for)."""
    ref = f.flow_ref
    event: dict[str, Any] = {"timestamp": eve_time(f.first_ts)}
    if ref is not None:
        event["flow_id"] = ref.flow_id
    event["event_type"] = "alert"
    if ref is not None:
        event.update(tuple_fields(ref))
    else:  # a finding without its flow (not made by this version): what it says itself
        event["src_ip"] = f.device
        if f.peer is not None:
            event["dest_ip"] = f.peer
        if f.peer_port is not None:
            event["dest_port"] = f.peer_port
        event["proto"] = f.proto.upper()
    event["host"] = host
    sig = SIGNATURES[FindingKind(f.kind)]
    event["alert"] = {
        "action": "allowed",  # passive: nothing is ever blocked
        "gid": GID,
        "signature_id": sig.sid,
        "rev": REV,
        "signature": sig.signature,
        "category": sig.category,
        "severity": sig.severity,
        "metadata": alert_metadata(f, record, count),
    }
    event.update(app_fields(f))
    return event


def alert_metadata(f: Finding, record: str, count: int | None) -> dict[str, list[str]]:
    """The finding's own fields, as arrays of strings (Suricata's rule metadata form)."""
    fields: dict[str, object] = {
        "record": "summary" if f.is_summary else record,
        "kind": f.kind.value,
        "device": f.device,
        "peer": f.peer,
        "peer_port": f.peer_port,
        "proto": f.proto,
        "peer_name": f.peer_name,
        "query_name": f.query_name,
        "vendor": f.vendor,
        "endpoint": f.endpoint,
        "answered": "true" if f.answered else "false",
        "flows": f.flows,
        "packets": f.packets,
        "bytes": f.bytes,
        "first_time": eve_time(f.first_ts),
        "last_time": eve_time(f.last_ts),
        "flow_uid": f.flow_uid or None,
        "evidence": f.evidence,
        "count": count,
        "suppressed": None if count is None else count - 1,
    }
    if f.is_summary:
        fields["peers"] = f.peers
        fields["ports"] = f.ports
        fields["five_tuple"] = "first flow of the summary"
    out = {k: [str(v)] for k, v in fields.items() if v is not None and v != ""}
    if f.is_summary and f.sample_peers:
        out["sample_peers"] = [str(p) for p in f.sample_peers]
    return out


def app_fields(f: Finding) -> dict[str, Any]:
    """``app_proto`` and the ``tls``/``quic``/``dns``/``http`` objects of ``f``'s flow."""
    seen = {what: (value, detail) for what, value, detail in (f.flow_ref.app if f.flow_ref else ())}
    out: dict[str, Any] = {}
    protos = [APP_PROTO[w] for w in seen if w in APP_PROTO]
    if f.query_name and f.kind in (FindingKind.VENDOR_LOOKUP, FindingKind.EXTERNAL_RESOLVER):
        protos.insert(0, "dns")
    if protos:
        out["app_proto"] = protos[0]
    tls = _tls(f, seen)
    if tls:
        out["quic" if "quic_sni" in seen and "sni" not in seen else "tls"] = tls
    query = f.query_name or seen.get("dns_query", (None, ""))[0]
    if query and "dns" in protos:
        entry: dict[str, Any] = {"type": "query", "rrname": query}
        qtype = seen.get("dns_query", ("", ""))[1]
        if qtype.isdigit():
            entry["rrtype"] = DNS_TYPES.get(int(qtype), f"TYPE{qtype}")
        out["dns"] = {"query": [entry]}
    http: dict[str, str] = {}
    if "http_host" in seen:
        http["hostname"] = seen["http_host"][0]
    if "user_agent" in seen:
        http["http_user_agent"] = seen["user_agent"][0]
    if http:
        out["http"] = http
    return out


def _tls(f: Finding, seen: dict[str, tuple[str, str]]) -> dict[str, Any]:
    tls: dict[str, Any] = {}
    sni = seen.get("sni") or seen.get("quic_sni")
    if sni:
        tls["sni"] = sni[0]
    cert = getattr(f, "tls_certificate", None)
    if cert is not None:
        tls["subject"] = cert.subject
        tls["issuerdn"] = cert.issuer
        tls["serial"] = _serial(cert.serial)
        tls["notbefore"] = _tls_date(cert.not_before)
        tls["notafter"] = _tls_date(cert.not_after)
    for name in ("ja3", "ja3s"):
        value = getattr(f, name, None)
        if value:
            tls[name] = {"hash": value}
    ja4 = getattr(f, "ja4", None)
    if ja4:
        tls["ja4"] = ja4
    return tls


def _serial(hex_text: str) -> str:
    """A serial number as Suricata writes it: upper-case hex bytes joined by ``:``."""
    text = hex_text.upper()
    text = text if len(text) % 2 == 0 else "0" + text
    return ":".join(text[i : i + 2] for i in range(0, len(text), 2))


def _tls_date(ts: float) -> str:
    """``2026-03-02T08:00:00`` (Suricata's certificate dates), clamped to years 1000-2999."""
    ts = min(max(ts, -30610224000.0), 32503680000.0 - 1)
    return (EPOCH + timedelta(seconds=int(ts))).strftime("%Y-%m-%dT%H:%M:%S")


def dumps(event: dict[str, Any]) -> str:
    """One EVE line (compact JSON and a newline)."""
    return json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n"
