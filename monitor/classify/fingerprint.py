"""Passive device fingerprinting: facts gathered from what the slow path already sees.

Three hooks feed it, none of them per packet:

- a discovery announcement the inspector dissected (rate-limited per sender and port),
- a DHCP message (option 12 host name, option 60 vendor class; offers/acks name servers),
- a flow that ended: the port its responder answered on, RTSP and web use between
  closed-network hosts, Server banners, realms and User-Agents of its head packets, and the
  vendor endpoints it was attributed to.

Facts are kept per IP address, or per MAC for what arrives without a usable address (DHCP
from 0.0.0.0, SADP over raw Ethernet); :meth:`Fingerprinter.evidence` assembles them, with
the OUI and behaviour, when a device is summarised (end of replay, metrics snapshot).
Every store is bounded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.classify import device_rules as rules
from monitor.classify.catalog import VendorCatalog
from monitor.decode.dhcp import DhcpMessage
from monitor.decode.discovery import DiscoveryInfo
from monitor.flow.state import FlowState
from monitor.model import IPPROTO_TCP, IPPROTO_UDP, DeviceFact

MAX_HOSTS = 1 << 16
BANNER_MEMO_LIMIT = 1024  # distinct (header, banner) pairs remembered
BANNERS_LEARNED_LIMIT = 1 << 16  # (host, header, banner) already learned from
FLOW_MEMO_LIMIT = 1 << 16  # flow shapes whose facts are already kept (see on_flow)
MAX_FACTS = 48
MAX_PEERS = 64
WEB_PORTS = frozenset({80, 443, 8000, 8080, 8081, 8443})
RTSP_PORT = 554
DNS_PORTS = frozenset({53, 853})
TCP_NAMES = {21: "ftp", 22: "ssh", 23: "telnet", 53: "dns", 80: "http", 443: "https",
             554: "rtsp", 2020: "onvif", 8000: "sdk", 8080: "http", 8443: "https",
             8554: "rtsp", 9000: "baichuan", 34567: "dvrip", 37777: "dvrip"}  # fmt: skip
UDP_NAMES = {53: "dns", 67: "dhcp", 69: "tftp", 123: "ntp", 161: "snmp", 514: "syslog",
             1900: "ssdp", 3702: "ws-discovery", 5050: "dahua-discovery", 5353: "mdns",
             34569: "xmeye", 37020: "sadp", 37810: "dhip"}  # fmt: skip
EPHEMERAL = 32768
_MAC_RE = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}\Z")
_INFRA = {53: ("answers DNS", rules.HIGH), 67: ("serves DHCP", rules.HIGH),
          123: ("answers NTP", rules.MEDIUM)}  # fmt: skip


@dataclass(slots=True)
class HostFacts:
    """What the traffic said about one address (or one MAC)."""

    facts: dict[tuple[str, str, str], DeviceFact] = field(default_factory=dict)
    services: set[tuple[int, str]] = field(default_factory=set)  # (port, proto) answered on
    asked: set[tuple[int, str]] = field(default_factory=set)  # DNS ports others asked it on
    rtsp_clients: set[str] = field(default_factory=set)
    rtsp_sources: set[str] = field(default_factory=set)  # closed hosts it pulls RTSP from
    web_servers: set[str] = field(default_factory=set)  # closed hosts whose web port it used
    address: str | None = None  # for a MAC: the IPv4 address it was given or announced

    def add(self, new: list[DeviceFact]) -> bool:
        """Keep ``new`` facts (first of each fact/value/source wins); True if any was new."""
        added = False
        for f in new:
            key = (f.fact, f.value.lower(), f.source)
            if key not in self.facts and len(self.facts) < MAX_FACTS:
                self.facts[key] = f
                added = True
        return added


def _bounded_add(items: set[str], value: str) -> bool:
    if value in items or len(items) >= MAX_PEERS:
        return False
    items.add(value)
    return True


def is_mac(text: str) -> bool:
    """True for a lower-case colon-separated MAC address (the sender of layer-2 SADP)."""
    return len(text) == 17 and _MAC_RE.match(text) is not None  # an address is no MAC


class Fingerprinter:
    """Collects device facts from the slow path; see the module docstring."""

    def __init__(self, catalog: VendorCatalog) -> None:
        self.catalog = catalog
        self.hosts: dict[str, HostFacts] = {}
        self.macs: dict[str, HostFacts] = {}
        self.changed: set[str] = set()  # IPs and MACs with new facts since the last summary
        self.dropped = 0
        self._brand_vendor = _brand_vendors(catalog)
        self._heard: set[tuple[str, DiscoveryInfo]] = set()  # announcements repeat verbatim
        self._role_hints = _oui_role_hints(catalog)
        self._banner_memo: dict[tuple[str, str], list[DeviceFact]] = {}
        self._banners_learned: set[tuple[str, str, str]] = set()
        # (orig, resp, port, proto, answered, rtsp, closed ends) of flows already learned from
        self._flow_shapes: set[tuple[str, str, int, int, bool, bool, bool, bool]] = set()

    def drop_memos(self) -> None:
        """Forget what only spares work (repeated announcements, banners, flow shapes): a
        partition's fingerprinter travels to the merge, which learns nothing more."""
        self._heard.clear()
        self._banner_memo.clear()
        self._flow_shapes.clear()
        self._banners_learned.clear()

    # -- stores ------------------------------------------------------------------------------
    def _entry(self, table: dict[str, HostFacts], key: str) -> HostFacts | None:
        entry = table.get(key)
        if entry is None:
            if len(table) >= MAX_HOSTS:
                self.dropped += 1
                return None
            entry = table[key] = HostFacts()
        return entry

    def _learn(self, key: str, facts: list[DeviceFact]) -> None:
        table = self.macs if is_mac(key) else self.hosts
        entry = self._entry(table, key) if facts else None
        if entry is not None and entry.add([self._normal(f) for f in facts]):
            self.changed.add(key)

    def _normal(self, f: DeviceFact) -> DeviceFact:
        """Vendor facts as catalog vendor ids (a sub-brand like ``ezviz`` is its maker)."""
        if f.fact != "vendor":
            return f
        vendor = self._brand_vendor.get(f.value.lower(), f.value.lower())
        return DeviceFact(f.fact, vendor, f.source, f.confidence)

    # -- hooks -------------------------------------------------------------------------------
    def on_discovery(self, ts: float, sender: str, info: DiscoveryInfo) -> None:
        """A dissected discovery datagram from ``sender`` (an IP, or a MAC for raw SADP)."""
        if info.kind == "probe" or (sender, info) in self._heard:
            return
        if len(self._heard) >= MAX_HOSTS:
            self._heard.clear()
        self._heard.add((sender, info))
        facts = rules.discovery_facts(info)
        self._learn(sender, facts)
        if is_mac(sender) and info.ipv4:
            entry = self.macs.get(sender)
            if entry is not None and entry.address is None:
                entry.address = info.ipv4
                self.changed.add(sender)

    def on_dhcp(self, ts: float, sender: str, msg: DhcpMessage) -> None:
        """A DHCP message: a server's offer/ack names the server and binds MAC and address."""
        if msg.from_server:
            server = msg.server_id or sender
            entry = self._entry(self.hosts, server) if server != "0.0.0.0" else None
            if entry is not None and (67, "udp") not in entry.services:
                entry.services.add((67, "udp"))
                self.changed.add(server)
            if msg.kind == "ack" and msg.client_mac and msg.yiaddr:
                client = self._entry(self.macs, msg.client_mac)
                if client is not None and client.address != msg.yiaddr:
                    client.address = msg.yiaddr
                    self.changed.add(msg.client_mac)
            return
        if msg.client_mac:
            self._learn(msg.client_mac, rules.dhcp_client_facts(msg))

    def on_flow(self, flow: FlowState, closed: Callable[[str], bool]) -> None:
        """A flow that ended (or reached its active timeout): services, RTSP, web, banners."""
        o, r = flow.orig_addr, flow.resp_addr
        o_in, r_in = closed(o), closed(r)
        if not (o_in or r_in):
            return
        rtsp = bool(flow.observations) and self._banners(
            flow, o if o_in else None, r if r_in else None
        )
        answered = flow.answered
        # Services and peers are sets: a flow shaped like one already learned from (a
        # camera's next RTSP session, a host's next DNS lookup) adds nothing to them. Shapes
        # are remembered only while every host has its entry, so a full store still counts
        # each fact it drops.
        shape = (o, r, flow.resp_port, flow.proto, answered, rtsp, o_in, r_in)
        if shape not in self._flow_shapes:
            self._flow_facts(flow, answered, rtsp, o_in, r_in)
            if len(self.hosts) < MAX_HOSTS:
                if len(self._flow_shapes) >= FLOW_MEMO_LIMIT:
                    self._flow_shapes.clear()
                self._flow_shapes.add(shape)
        if flow.finding_kinds and (o_in if flow.device == o else r_in):
            self._cloud(flow)

    def _flow_facts(
        self, flow: FlowState, answered: bool, rtsp: bool, o_in: bool, r_in: bool
    ) -> None:
        """The services and peers one ended flow shows (``on_flow`` without its memo)."""
        o, r = flow.orig_addr, flow.resp_addr
        if r_in and answered:
            self._service(r, flow)
        if r_in and o_in and flow.resp_port in DNS_PORTS:
            self._asked(r, flow)
        tcp = flow.proto == IPPROTO_TCP
        if r_in and (rtsp or (tcp and answered and flow.resp_port == RTSP_PORT)):
            self._peer(r, "rtsp_clients", o)
            if o_in:
                self._peer(o, "rtsp_sources", r)
        if o_in and r_in and tcp and answered and flow.resp_port in WEB_PORTS:
            self._peer(o, "web_servers", r)

    def _service(self, addr: str, flow: FlowState) -> None:
        port = flow.resp_port
        if flow.proto == IPPROTO_TCP and 0 < port < EPHEMERAL:
            key = (port, "tcp")
        elif flow.proto == IPPROTO_UDP and port in UDP_NAMES:
            key = (port, "udp")
        else:
            return
        entry = self._entry(self.hosts, addr)
        if entry is not None and key not in entry.services and len(entry.services) < MAX_PEERS:
            entry.services.add(key)
            self.changed.add(addr)

    def _asked(self, addr: str, flow: FlowState) -> None:
        key = (flow.resp_port, "tcp" if flow.proto == IPPROTO_TCP else "udp")
        entry = self._entry(self.hosts, addr)
        if entry is not None and key not in entry.asked:
            entry.asked.add(key)

    def _peer(self, addr: str, what: str, peer: str) -> None:
        entry = self._entry(self.hosts, addr)
        if entry is not None and _bounded_add(getattr(entry, what), peer):
            self.changed.add(addr)

    def _banners(self, flow: FlowState, client: str | None, server: str | None) -> bool:
        """Learn from Server/realm/User-Agent observations; True if an RTSP response was seen."""
        rtsp = False
        for obs in flow.observations:
            if obs.what == "server_banner" and server is not None:
                what = f"{(obs.detail or 'http').upper()} Server header"
                self._learn_banner(server, what, obs.value)
            elif obs.what == "response_head":
                rtsp = rtsp or obs.value == "rtsp"
                if obs.detail and server is not None:
                    what = f"{obs.value.upper()} WWW-Authenticate"
                    self._learn_banner(server, what, obs.detail)
            elif obs.what == "user_agent" and client is not None:
                self._learn_banner(client, f"{obs.detail.upper()} User-Agent", obs.value)
        return rtsp

    def _learn_banner(self, addr: str, what: str, text: str) -> None:
        """Learn a banner's facts about ``addr``: once, as a host shows the same banner on
        every web or RTSP flow. Remembered only once ``addr`` has an entry (a full store
        still counts each drop)."""
        key = (addr, what, text)
        if key in self._banners_learned:
            return
        self._learn(addr, self._banner(what, text))
        if addr in self.hosts or addr in self.macs:
            if len(self._banners_learned) >= BANNERS_LEARNED_LIMIT:
                self._banners_learned.clear()
            self._banners_learned.add(key)

    def _banner(self, what: str, text: str) -> list[DeviceFact]:
        """Facts of one banner; the same few banners come back on every web/RTSP flow."""
        key = (what, text)
        facts = self._banner_memo.get(key)
        if facts is None:
            facts = rules.banner_facts(self.catalog.vendor_for_banner(text), what, text)
            if len(self._banner_memo) >= BANNER_MEMO_LIMIT:
                self._banner_memo.clear()
            self._banner_memo[key] = facts
        return facts

    def _cloud(self, flow: FlowState) -> None:
        """A device that reached or looked up a vendor's endpoint hints at that vendor."""
        for _, (_, name) in zip(flow.finding_kinds, flow.finding_details, strict=False):
            endpoint = self.catalog.endpoint(name) if name else None
            if endpoint is None:
                continue
            vendor = endpoint.vendor if endpoint.vendor != "generic" else endpoint.brand
            if vendor in self.catalog.vendors and vendor != "generic":
                src = f"contacts {endpoint.name} ({endpoint.brand} endpoint)"
                self._learn(flow.device, [DeviceFact("vendor", vendor, src, rules.LOW)])

    # -- summary -----------------------------------------------------------------------------
    def evidence(self, ip: str, mac: str | None, mac_trusted: bool = True) -> list[DeviceFact]:
        """Everything known about ``ip`` (and its MAC, unless shared by many addresses)."""
        out: list[DeviceFact] = []
        host = self.hosts.get(ip)
        if host is not None:
            out += host.facts.values()
            out += behaviour_facts(host)
        if mac and mac_trusted:
            out += self.oui_facts(mac)
            by_mac = self.macs.get(mac)
            out += by_mac.facts.values() if by_mac is not None else ()
        return out

    def oui_facts(self, mac: str) -> list[DeviceFact]:
        """The vendor owning the MAC's registered prefix, and a role hint for some makers."""
        if int(mac[:2], 16) & 0x02:  # locally administered: no registry owner
            return []
        vendor = self.catalog.vendor_for_mac(mac)
        if vendor is None:
            return []
        src = f"MAC OUI {mac[:8].upper()} (IEEE registry)"
        hint = self._role_hints.get(vendor)
        return rules.collect(
            rules.fact("vendor", vendor, src, rules.HIGH),
            rules.fact("role", hint, f"{src}: {vendor} makes mostly cameras", rules.LOW)
            if hint
            else None,
        )

    def services(self, ip: str) -> list[str]:
        """``554/tcp rtsp``-style entries for the ports ``ip`` answered on."""
        host = self.hosts.get(ip)
        if host is None:
            return []
        out = []
        for port, proto in sorted(host.services):
            name = (TCP_NAMES if proto == "tcp" else UDP_NAMES).get(port)
            out.append(f"{port}/{proto} {name}" if name else f"{port}/{proto}")
        return out

    def dns_servers(self) -> tuple[list[str], list[str]]:
        """Closed hosts asked DNS (53/853) by closed hosts: (answered, never answered)."""
        answered: list[str] = []
        silent: list[str] = []
        for ip, host in self.hosts.items():
            if host.asked:
                served = any(port in DNS_PORTS for port, _ in host.services)
                (answered if served else silent).append(ip)
        return answered, silent

    def bindings(self) -> dict[str, str]:
        """MAC -> IPv4 address from DHCP acks and raw SADP (devices heard only that way)."""
        return {mac: e.address for mac, e in self.macs.items() if e.address}


def behaviour_facts(host: HostFacts) -> list[DeviceFact]:
    """Role evidence from what the host does: serve or pull RTSP, answer DNS/NTP/DHCP, use
    the web interfaces of many devices."""
    out: list[DeviceFact] = []
    software = [f.value for f in host.facts.values() if f.fact == "software"]
    media_server = any(rules.SOFTWARE_MEDIA_SERVERS.search(s) for s in software)
    n_clients, n_sources = len(host.rtsp_clients), len(host.rtsp_sources)
    if n_clients and not media_server:
        src = f"serves RTSP to {n_clients} client{'s' if n_clients > 1 else ''}"
        out += rules.collect(rules.fact("role", "camera", src, rules.MEDIUM))
    if n_sources >= 2:
        conf = rules.HIGH if n_sources >= 3 else rules.MEDIUM
        out += rules.collect(
            rules.fact("role", "recorder", f"pulls RTSP from {n_sources} devices", conf)
        )
    for port, (what, conf) in _INFRA.items():
        if (port, "udp") in host.services or (port == 53 and (53, "tcp") in host.services):
            out += rules.collect(rules.fact("role", "infrastructure", f"{what} ({port})", conf))
    n_web = len(host.web_servers)
    if n_web >= 3 and n_sources < 2 and not n_clients:
        src = f"uses the web interface of {n_web} devices, serves no RTSP"
        out += rules.collect(rules.fact("role", "workstation", src, rules.MEDIUM))
    return out


def _brand_vendors(catalog: VendorCatalog) -> dict[str, str]:
    """Sub-brand -> catalog vendor id (``ezviz`` -> ``hikvision``), vendors map to themselves."""
    out: dict[str, str] = {}
    for vid, v in catalog.doc.get("vendors", {}).items():
        if vid == "generic":
            continue
        for brand in v.get("brands", ()):
            out.setdefault(str(brand).lower(), vid)
    out.update({vid: vid for vid in catalog.vendors})
    return out


def _oui_role_hints(catalog: VendorCatalog) -> dict[str, str]:
    """Vendor -> role its OUI blocks hint at (``device_hint`` of the generic camera makers)."""
    hints: dict[str, str] = {}
    for vid, v in catalog.doc.get("vendors", {}).items():
        for block in v.get("ouis", ()):
            hint = block.get("device_hint")
            if hint:
                hints[vid] = str(hint)
    return hints
