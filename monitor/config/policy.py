"""Site policy values (CONTRACT.md §2) and their fast, cached lookups."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
NetKey = tuple[int, int, int]  # (IP version, network int, mask int)

ROLES = ("camera", "recorder", "workstation", "infrastructure", "server", "other")
SERVICE_KINDS = ("dns", "ntp", "dhcp", "syslog", "vms")
PROTOS = ("tcp", "udp", "any")
# fmt: off
DEFAULT_CLOSED = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                  "169.254.0.0/16", "127.0.0.0/8", "224.0.0.0/4",
                  "fc00::/7", "fe80::/10", "::1/128", "ff00::/8")
# fmt: on
CACHE_MAX = 1 << 16  # entries per lookup cache; a full cache is cleared
_MISS = object()


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """One inventory entry: a single host (``ip``, and the ``addresses`` it also uses) or a
    range (``cidr``)."""

    ip: str | None = None
    cidr: str | None = None
    mac: str | None = None
    name: str | None = None
    vendor: str | None = None
    model: str | None = None
    role: str | None = None
    firmware: str | None = None
    serial: str | None = None
    addresses: tuple[str, ...] = ()  # the host's other addresses (IPv6 beside IPv4, ...)

    @property
    def network(self) -> Network:
        """The entry as a network (a /32 or /128 for an ``ip`` entry)."""
        return ipaddress.ip_network(self.ip if self.ip is not None else str(self.cidr))

    @property
    def label(self) -> str:
        """The inventory name, else the address or range."""
        return self.name or self.ip or str(self.cidr)


@dataclass(frozen=True, slots=True)
class Services:
    """Internal services that devices may use, per kind."""

    dns: tuple[Network, ...] = ()
    ntp: tuple[Network, ...] = ()
    dhcp: tuple[Network, ...] = ()
    syslog: tuple[Network, ...] = ()
    vms: tuple[Network, ...] = ()

    def get(self, kind: str) -> tuple[Network, ...]:
        """The networks listed for ``kind`` (ValueError for an unknown kind)."""
        if kind not in SERVICE_KINDS:
            raise ValueError(f"unknown service kind {kind!r}")
        nets: tuple[Network, ...] = getattr(self, kind)
        return nets


@dataclass(frozen=True, slots=True)
class MirrorPorts:
    """UDP ports on which the mirror arrives inside VXLAN or Geneve, besides the IANA ports
    (4789 and 6081) that are always decapsulated."""

    vxlan: tuple[int, ...] = ()
    geneve: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep a flood from growing reports and label sets without end."""

    devices: int = 1024  # hosts outside the inventory tracked one by one; then "other"
    findings_per_device: int = 256  # findings per device and kind; then one summary
    findings_per_kind: int = 4096  # findings per kind over all devices; then summaries


@dataclass(frozen=True, slots=True)
class AllowRule:
    """An allowance: ``src`` may reach ``dst`` on ``ports`` (empty: any) over ``proto``."""

    src: Network
    dst: Network
    ports: tuple[tuple[int, int], ...] = ()
    proto: str = "any"


def addr_key(addr: str) -> tuple[int, int]:
    """(IP version, integer value) of an address; IPv4-mapped IPv6 counts as IPv4."""
    a = ipaddress.ip_address(addr)
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        return 4, int(a.ipv4_mapped)
    return a.version, int(a)


def net_key(net: Network) -> NetKey:
    """(version, network int, mask int) for mask-and-compare membership tests."""
    return net.version, int(net.network_address), int(net.netmask)


def fmt_net(net: Network) -> str:
    """A network as text, a single host without its /32 or /128."""
    return str(net.network_address) if net.num_addresses == 1 else str(net)


def _host_addresses(d: DeviceEntry) -> tuple[str, ...]:
    return () if d.ip is None else (d.ip, *d.addresses)


def _in_any(addr: str, nets: tuple[NetKey, ...]) -> bool:
    ver, ip = addr_key(addr)
    return any(v == ver and ip & mask == base for v, base, mask in nets)


def _cached(cache: dict[Any, Any], key: Any, compute: Callable[..., Any], *args: Any) -> Any:
    """``compute(*args)`` memoised under ``key`` in a bounded cache (cleared when full)."""
    hit = cache.get(key, _MISS)
    if hit is _MISS:
        if len(cache) >= CACHE_MAX:
            cache.clear()
        hit = cache[key] = compute(*args)
    return hit


class _Index:
    """Integer forms of a policy's networks plus its bounded lookup caches."""

    def __init__(self, p: Policy) -> None:
        self.closed = tuple(net_key(n) for n in p.closed_networks)
        self.hosts = {addr_key(a): d for d in reversed(p.devices) for a in _host_addresses(d)}
        cidrs = sorted((d for d in p.devices if d.ip is None), key=lambda d: -d.network.prefixlen)
        self.ranges = tuple((net_key(d.network), d) for d in cidrs)
        self.services = {k: tuple(net_key(n) for n in p.services.get(k)) for k in SERVICE_KINDS}
        self.rules = tuple((net_key(r.src), net_key(r.dst), r.proto, r.ports) for r in p.allow)
        self.c_closed: dict[str, bool] = {}
        self.c_device: dict[str, DeviceEntry | None] = {}
        self.c_service: dict[tuple[str, str], bool] = {}
        self.c_allowed: dict[tuple[str, str, str, int], bool] = {}


@dataclass(frozen=True)
class Policy:
    """A validated site policy with precomputed, cached lookups (ValueError on a non-address)."""

    site: str
    closed_networks: tuple[Network, ...]
    devices: tuple[DeviceEntry, ...] = ()
    services: Services = field(default_factory=Services)
    allow: tuple[AllowRule, ...] = ()
    source: str | None = None
    warnings: tuple[str, ...] = ()
    mirror: MirrorPorts = field(default_factory=MirrorPorts)
    limits: Limits = field(default_factory=Limits)
    _ix: _Index = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ix", _Index(self))

    def is_closed(self, addr: str) -> bool:
        """True when ``addr`` lies inside one of the closed networks."""
        hit = self._ix.c_closed.get(addr)
        if hit is None:
            hit = _cached(self._ix.c_closed, addr, _in_any, addr, self._ix.closed)
        return hit

    def device_for(self, addr: str) -> DeviceEntry | None:
        """The most specific inventory entry holding ``addr`` (an entry's ``ip`` or one of
        its ``addresses`` over cidr, longest prefix)."""
        dev: DeviceEntry | None = _cached(self._ix.c_device, addr, self._find_device, addr)
        return dev

    def _find_device(self, addr: str) -> DeviceEntry | None:
        key = addr_key(addr)
        dev = self._ix.hosts.get(key)
        if dev is None:
            ver, ip = key
            dev = next((d for (v, b, m), d in self._ix.ranges if v == ver and ip & m == b), None)
        return dev

    def is_service(self, kind: str, addr: str) -> bool:
        """True when ``addr`` is listed under ``services.<kind>`` (ValueError: unknown kind)."""
        nets = self._ix.services.get(kind)
        if nets is None:
            raise ValueError(f"unknown service kind {kind!r}")
        return bool(nets) and bool(_cached(self._ix.c_service, (kind, addr), _in_any, addr, nets))

    def has_services(self, kind: str) -> bool:
        """True when the policy lists at least one ``kind`` service."""
        return bool(self.services.get(kind))

    def allowed(self, src: str, dst: str, proto: str, port: int) -> bool:
        """True when an ``allow`` rule lets ``src`` reach ``dst`` on ``proto``/``port``."""
        key = (src, dst, proto, port)
        return bool(self.allow) and bool(_cached(self._ix.c_allowed, key, self._match, *key))

    def _match(self, src: str, dst: str, proto: str, port: int) -> bool:
        (sv, s), (dv, d) = addr_key(src), addr_key(dst)
        for (rsv, rs, rsm), (rdv, rd, rdm), rproto, ports in self._ix.rules:
            if rsv != sv or s & rsm != rs or rdv != dv or d & rdm != rd:
                continue
            if rproto not in ("any", proto):
                continue
            if not ports or (proto in ("tcp", "udp") and any(a <= port <= b for a, b in ports)):
                return True
        return False


def default_policy() -> Policy:
    """The built-in policy: private, shared, link-local, loopback, multicast ranges are closed."""
    return Policy(site="default", closed_networks=tuple(map(ipaddress.ip_network, DEFAULT_CLOSED)))


def describe_policy(policy: Policy) -> str:
    """What ``check-config`` prints: the policy as understood, in plain text."""
    p, hosts = policy, sum(1 for d in policy.devices if d.ip is not None)
    out = [f"policy: {p.source or '(built-in default)'}", f"site: {p.site}", ""]
    out += [f"closed networks ({len(p.closed_networks)}):", *(f"  {n}" for n in p.closed_networks)]
    out.append(f"\ndevices ({len(p.devices)}):")
    if not p.devices:
        out.append("  (none listed: every closed-network host seen is a device)")
    keys = ("vendor", "role", "model", "mac", "firmware", "serial")
    for d in p.devices:
        pairs = [(k, getattr(d, k)) for k in keys] + [("addresses", ",".join(d.addresses))]
        extra = " ".join(f"{k}={v}" for k, v in pairs if v)
        out.append(f"  {d.ip or d.cidr:<22} {d.name or '-':<20} {extra}".rstrip())
    out.append("\nservices:")
    for kind, nets in ((k, p.services.get(k)) for k in SERVICE_KINDS):
        out.append(f"  {kind + ':':<8}{', '.join(map(fmt_net, nets)) if nets else '(none)'}")
    out.append(f"\nallow rules ({len(p.allow)}):")
    for r in p.allow:
        ports = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in r.ports) or "any port"
        out.append(f"  {fmt_net(r.src)} -> {fmt_net(r.dst)}  proto {r.proto}  {ports}")
    out.append(
        f"\nlimits: {p.limits.devices:,} devices besides the inventory, then 'other'; "
        f"{p.limits.findings_per_device:,} findings per device and kind and "
        f"{p.limits.findings_per_kind:,} per kind, then a summary per device and kind"
    )
    out.append("\nmirror tunnels decapsulated: GRE, ERSPAN I/II/III, IP-in-IP, VXLAN, Geneve")
    vxlan = ", ".join(map(str, sorted({4789, *p.mirror.vxlan})))
    geneve = ", ".join(map(str, sorted({6081, *p.mirror.geneve})))
    out.append(f"  VXLAN on UDP {vxlan}; Geneve on UDP {geneve}")
    n_svc = sum(len(p.services.get(k)) for k in SERVICE_KINDS)
    out.append(f"\nsummary: closed networks {len(p.closed_networks)}, inventory hosts {hosts}, "
               f"inventory ranges {len(p.devices) - hosts}, service entries {n_svc}, "
               f"allow rules {len(p.allow)}")  # fmt: skip
    return "\n".join(out + [f"warning: {w}" for w in p.warnings])
