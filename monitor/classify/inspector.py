"""The slow path: hands the few meaningful packets of a flow to the right dissector.

Only head packets (the first few of each flow) and packets on the DNS and discovery
ports arrive here. What a dissector finds becomes an :class:`Observation` on the
flow, a name in the :class:`NameCache`, or a fact about a device.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from monitor.classify.catalog import VendorCatalog
from monitor.classify.evidence import describe_mapping
from monitor.classify.names import NameCache
from monitor.classify.tls_follow import TlsFollower
from monitor.classify.tls_inspect import TlsDissector
from monitor.decode import dhcp, dns, http, natpmp, upnp
from monitor.decode.addresses import is_dotted_quad
from monitor.decode.discovery import DiscoveryInfo, dissect_discovery, parse_sadp_ether
from monitor.decode.frames import ETH_SADP, DecodedBatch
from monitor.flow.state import FlowState, Observation
from monitor.model import IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP

DNS_PORTS = frozenset({53, 5353, 5355})
DISCOVERY_PORTS = frozenset({37020, 37810, 5050, 3702, 34569, 5353, 1900})
SLOW_PATH_PORTS = (53, 5353, 5355, 1900, 3702, 37020, 37810, 5050, 5351, 34569, 67, 68)
DISCOVERY_MEMO_LIMIT = 4096
# Seconds of packet time between dissections of one sender's announcements on one port:
# they repeat every few seconds to minutes and rarely change (a firmware upgrade shows
# within this long). The first one of each sender is always dissected.
DISCOVERY_INTERVAL = 900.0
DHCP_PORTS = frozenset({67, 68})
ICMP_PROTOS = (IPPROTO_ICMP, IPPROTO_ICMPV6)
# Discovery datagrams that say who the sender is (not a search, a bye, or a bare USN).
_IDENTIFYING_EXTRA = frozenset({"server", "location", "txt", "types", "DeviceType", "method"})
DiscoveryHook = Callable[[float, str, DiscoveryInfo], None]
DhcpHook = Callable[[float, str, dhcp.DhcpMessage], None]


@dataclass(slots=True)
class Inspector:
    """Dispatches head packets to dissectors and records what they learned."""

    catalog: VendorCatalog
    names: NameCache
    name_log: list[tuple[str, str, str]] = field(default_factory=list)
    keep_name_log: bool = False
    fingerprint: bool = True  # dissect discovery, DHCP and banners for device facts
    on_discovery: DiscoveryHook | None = None
    on_dhcp: DhcpHook | None = None
    errors: int = 0
    tls: TlsDissector = field(init=False)  # TLS/QUIC handshakes (tls_inspect.py)
    follow: TlsFollower = field(init=False)  # ... read past the head (tls_follow.py)
    _discovery_next: dict[tuple[str, int, bytes], float] = field(default_factory=dict)
    _dns_memo: dict[bytes, dns.DnsMessage] = field(default_factory=dict)
    _discovery_memo: dict[tuple[int, bytes], DiscoveryInfo | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tls = TlsDissector(self._name)
        self.follow = TlsFollower(self.tls)

    def inspect(
        self,
        flow: FlowState,
        payload: bytes,
        ts: float,
        from_orig: bool,
        sport: int,
        dport: int,
        seq: int = -1,
    ) -> None:
        """Dissect one packet's transport payload in the context of its flow (``seq``: its
        TCP sequence number, -1 when unknown)."""
        if not payload:
            return
        if flow.proto in ICMP_PROTOS:  # the first message's type and code: Community ID
            if from_orig and len(payload) >= 2 and not flow.observed("icmp_type"):
                obs = Observation(ts, "icmp_type", str(payload[0]), str(payload[1]))
                flow.observations.append(obs)
            return
        src = flow.orig_addr if from_orig else flow.resp_addr
        if sport in DNS_PORTS or dport in DNS_PORTS:
            self._dns(flow, payload, ts)
        if flow.proto == IPPROTO_UDP:
            self._udp(flow, payload, ts, from_orig, src, sport, dport)
        elif flow.proto == IPPROTO_TCP:
            self._tcp(flow, payload, ts, from_orig, seq)

    def _udp(
        self,
        flow: FlowState,
        payload: bytes,
        ts: float,
        from_orig: bool,
        src: str,
        sport: int,
        dport: int,
    ) -> None:
        self._announcement(flow, payload, ts, src, sport, dport)
        if dport == 1900 and payload.startswith(b"M-SEARCH"):
            msg = upnp.parse_ssdp(payload)
            if msg is not None and upnp.is_igd_search(msg):
                flow.observations.append(Observation(ts, "igd_search", msg.st or msg.nt or ""))
        if from_orig and dport == 5351:
            mapping = natpmp.parse_natpmp_or_pcp(payload)
            if mapping is not None:
                flow.observations.append(
                    Observation(ts, "upnp_mapping", "NAT-PMP/PCP", describe_mapping(mapping))
                )
        self.tls.quic(flow, payload, ts, from_orig)
        if from_orig:
            self._signature(flow, payload, ts)

    def _announcement(
        self, flow: FlowState, payload: bytes, ts: float, src: str, sport: int, dport: int
    ) -> None:
        """Discovery and DHCP datagrams: facts about their sender."""
        for port in (dport, sport) if self.fingerprint else ():
            if port not in DISCOVERY_PORTS:
                continue
            # a NOTIFY and a search reply carry different facts: limited apart
            limit_key = (src, port, payload[:8])
            if self._discovery_due(limit_key, ts):
                info = self._discovery(port, payload)
                if info is not None:
                    self._heard(ts, src, info)
                    flow.observations.append(Observation(ts, "discovery", info.protocol))
                if info is None or identifies_sender(info):
                    self._discovery_next[limit_key] = ts + DISCOVERY_INTERVAL
                break
        if self.on_dhcp is not None and (sport in DHCP_PORTS or dport in DHCP_PORTS):
            message = dhcp.parse_dhcp(payload)
            if message is not None:
                self.on_dhcp(ts, src, message)

    def shared(
        self, proto: int, src: str, sport: int, dst: str, dport: int, payload: bytes, ts: float
    ) -> None:
        """A DNS or discovery datagram of a flow another partition accounts (replay
        ``--jobs``): learn the names it answers and the facts it announces, as
        :meth:`inspect` would, on a flow of its own that nothing keeps."""
        flow = FlowState(0, "", proto, src, sport, dst, dport, True, ts, ts)
        keep_log, errors = self.keep_name_log, self.errors
        self.keep_name_log = False  # the owning partition logs the names
        try:
            if sport in DNS_PORTS or dport in DNS_PORTS:
                if proto == IPPROTO_UDP:
                    self._dns(flow, payload, ts)
                elif proto == IPPROTO_TCP and 53 in (sport, dport):
                    for msg in dns.parse_dns_tcp(payload):
                        self._dns_message(flow, msg, ts)
            if proto == IPPROTO_UDP:
                self._announcement(flow, payload, ts, src, sport, dport)
        finally:
            self.keep_name_log, self.errors = keep_log, errors

    def layer2_discovery(self, d: DecodedBatch) -> None:
        """Hikvision SADP over raw Ethernet (EtherType 0x8033) has no IP flow."""
        sadp = d.ethertype == ETH_SADP
        if not sadp.any():  # nearly every batch: one pass, no index list
            return
        batch = d.batch
        for i in np.flatnonzero(sadp & (d.l2 >= 0)).tolist():
            l2, l3 = int(d.l2[i]), int(d.l3[i])
            end = int(batch.offset[i] + batch.caplen[i])
            info = parse_sadp_ether(bytes(batch.data[l3:end]))
            if info is not None:
                sender = bytes(batch.data[l2 + 6 : l2 + 12]).hex(":")
                self._heard(float(batch.ts[i]), sender, info)

    def _heard(self, ts: float, sender: str, info: DiscoveryInfo) -> None:
        """Hand a dissected announcement to the fingerprinter (which keeps what it says)."""
        if self.on_discovery is not None:
            self.on_discovery(ts, sender, info)

    def _discovery_due(self, key: tuple[str, int, bytes], ts: float) -> bool:
        """Dissect one announcement per sender, port and message type (the first 8 bytes:
        ``NOTIFY *`` or ``HTTP/1.1``, say) per DISCOVERY_INTERVAL: they repeat.

        The caller arms the interval once a datagram identified its sender (or was not
        discovery at all), so a search or a bye does not hide the next announcement.
        """
        due = self._discovery_next.get(key, 0.0) <= ts
        if due and len(self._discovery_next) >= DISCOVERY_MEMO_LIMIT * 4:
            self._discovery_next.clear()
        return due

    def _discovery(self, port: int, payload: bytes) -> DiscoveryInfo | None:
        """Dissect a discovery payload; searches and byes, which repeat byte for byte and are
        not rate-limited, only once.

        Announcements that identify their sender are not kept: their sender is silenced
        for DISCOVERY_INTERVAL anyway, and keeping them made memory grow with the capture.
        """
        memo_key = (port, payload)
        if memo_key in self._discovery_memo:
            return self._discovery_memo[memo_key]
        info = dissect_discovery(port, payload)
        if info is not None and not identifies_sender(info):
            if len(self._discovery_memo) >= DISCOVERY_MEMO_LIMIT:
                self._discovery_memo.clear()
            self._discovery_memo[memo_key] = info
        return info

    def _tcp(self, flow: FlowState, payload: bytes, ts: float, from_orig: bool, seq: int) -> None:
        if flow.resp_port == 53 or flow.orig_port == 53:
            for msg in dns.parse_dns_tcp(payload):
                self._dns_message(flow, msg, ts)
        if self.tls.tcp(flow, payload, ts, from_orig, seq):
            return
        if not from_orig:
            if not payload.startswith((b"HTTP/", b"RTSP/")):
                return
            resp = http.parse_http_response(payload)
            if resp is not None and resp.server:
                flow.observations.append(
                    Observation(ts, "server_banner", resp.server, resp.protocol)
                )
            if resp is not None and self.fingerprint:
                auth = resp.www_authenticate or ""
                if auth or resp.protocol == "rtsp":
                    flow.observations.append(Observation(ts, "response_head", resp.protocol, auth))
            return
        req = http.parse_http_request(payload)
        if req is not None:
            if req.host:
                self._name(flow, ts, "http_host", req.host)
            if req.user_agent and self.fingerprint:
                ua = Observation(ts, "user_agent", req.user_agent[:256], req.protocol)
                flow.observations.append(ua)
            mapping = upnp.parse_port_mapping_request(req)
            if mapping is not None:
                flow.observations.append(
                    Observation(ts, "upnp_mapping", "AddPortMapping", describe_mapping(mapping))
                )
            return
        self._signature(flow, payload, ts)

    def _signature(self, flow: FlowState, payload: bytes, ts: float) -> None:
        proto = "udp" if flow.proto == IPPROTO_UDP else "tcp"
        endpoint = self.catalog.match_signature(proto, flow.resp_port, payload)
        if endpoint is not None:
            flow.observations.append(Observation(ts, "signature", endpoint.name, endpoint.vendor))

    def _name(self, flow: FlowState, ts: float, what: str, name: str) -> None:
        if _is_ip_literal(name):
            return  # "Host: 10.20.0.1:49152" names nothing
        flow.observations.append(Observation(ts, what, name))
        if self.keep_name_log:
            self.name_log.append((what, name, flow.uid))

    def _dns(self, flow: FlowState, payload: bytes, ts: float) -> None:
        if flow.proto != IPPROTO_UDP:
            return
        key = payload[2:]  # repeated lookups differ only in their ID
        msg = self._dns_memo.get(key)
        if msg is None:
            msg = dns.parse_dns(payload)
            if len(self._dns_memo) >= DISCOVERY_MEMO_LIMIT:
                self._dns_memo.clear()
            if msg is not None:
                self._dns_memo[key] = msg
        if msg is None:
            self.errors += 1
            return
        self._dns_message(flow, msg, ts)

    def _dns_message(self, flow: FlowState, msg: dns.DnsMessage, ts: float) -> None:
        """Queries become observations; answers teach the name cache (A/AAAA only)."""
        asked = bool(flow.observed("dns_query"))
        for q in msg.questions:
            if not msg.is_response or not asked:  # a response alone still proves the lookup
                flow.observations.append(Observation(ts, "dns_query", q.name, str(q.qtype)))
            if self.keep_name_log:
                self.name_log.append(("dns_query", q.name, flow.uid))
        if not msg.is_response:
            return
        flow.observations.append(Observation(ts, "dns_response", str(msg.rcode)))
        query = msg.questions[0].name if msg.questions else ""
        if self.keep_name_log:
            for rr in (*msg.answers, *msg.authorities, *msg.additionals):
                if rr.name:  # the root (OPT records) names nothing; "": a value not decoded
                    self.name_log.append(("dns_answer", rr.name, rr.value or ""))
        for a in msg.answers:
            if a.rtype in (1, 28) and a.value:  # a damaged address record has no value
                self.names.learn(a.value, a.name, query or a.name, a.ttl, ts)


def identifies_sender(info: DiscoveryInfo) -> bool:
    """Whether a discovery datagram says who sent it (worth DISCOVERY_INTERVAL of silence after)."""
    if info.kind == "probe":
        return False
    if info.vendor or info.model or info.serial or info.firmware or info.mac:
        return True
    if info.name and info.protocol != "ssdp":  # an SSDP name is only the USN
        return True
    return any(key in _IDENTIFYING_EXTRA for key, _ in info.extra)


def _is_ip_literal(name: str) -> bool:
    """Whether ``name`` is an address, not a name (as ``ipaddress.ip_address`` decides)."""
    text = name.strip("[]")
    if ":" not in text:  # IPv4 or a name: decided without ipaddress (most hosts, quickly)
        return is_dotted_quad(text)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
