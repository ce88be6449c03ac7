"""Strict loading of a site policy file: every error names the file, line and key."""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable
from typing import Any

import yaml

from monitor.config.policy import (
    PROTOS,
    ROLES,
    SERVICE_KINDS,
    AllowRule,
    DeviceEntry,
    Limits,
    MirrorPorts,
    Network,
    Policy,
    Services,
    fmt_net,
)
from monitor.model import ConfigError

Node = yaml.Node
Mapping = dict[str, Node] | None
_SITE_RE = re.compile(r"[A-Za-z0-9_.:-]+\Z")
_VENDOR_RE = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
_PORTS_RE = re.compile(r"(\d+)(?:\s*-\s*(\d+))?\Z")
_MAC_RE = re.compile(r"[0-9a-f]{2}([:-]?)(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}\Z|[0-9a-f]{12}\Z")
_NULL, _INT = "tag:yaml.org,2002:null", "tag:yaml.org,2002:int"
_TOP_KEYS = dict(
    site=True,
    closed_networks=True,
    devices=False,
    services=False,
    allow=False,
    mirror=False,
    limits=False,
)
_LIMIT_KEYS = {"devices": False, "findings_per_device": False, "findings_per_kind": False}
_MIRROR_KEYS = {"vxlan_ports": False, "geneve_ports": False}
_TEXT_FIELDS = ("mac", "name", "vendor", "model", "role", "firmware", "serial")
_DEVICE_KEYS = dict.fromkeys(("ip", "cidr", "addresses", *_TEXT_FIELDS), False)
_ALLOW_KEYS = {"from": True, "to": True, "ports": False, "proto": False}


def load_policy(path: str) -> Policy:
    """Read and validate a site policy file; ConfigError names file, line and key of every error."""
    try:
        with open(path, encoding="utf-8") as fh:
            root = yaml.compose(fh, Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read policy: {exc}") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError(f"{path}:{line}: YAML syntax error: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML error: {exc}") from exc
    if root is None:
        raise ConfigError(f"{path}:1: the policy is empty (expected site, closed_networks, ...)")
    return _Checker(path).policy(root)


def _ln(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _kind(node: Node) -> str:
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        return "a mapping" if isinstance(node, yaml.MappingNode) else "a list"
    return "empty" if node.tag == _NULL else repr(node.value)


def _taken(addr: Network, hosts: dict[Network, tuple[Node, str]]) -> str:
    first, where = hosts[addr]
    return f"{fmt_net(addr)} is already defined by {where} (line {_ln(first)})"


def _inside(net: Network, closed: list[Network]) -> bool:
    return any(net.subnet_of(c) for c in closed if c.version == net.version)  # type: ignore[arg-type]


Check = Callable[[str], tuple[Any, str]]  # text -> (value, '') or (None, problem)
_Address = tuple[Network, Node, str]  # an entry's further address, its node and key path
_Parsed = tuple[DeviceEntry, Network, Node, str, list[_Address]]


def _rule(ok: Callable[[str], Any], msg: str, conv: Callable[[str], str] = str) -> Check:
    """A check that accepts the text when ``ok(text)``, else reports ``msg``."""
    return lambda t: (conv(t), "") if ok(t) else (None, f"{t!r} {msg}")


_site = _rule(_SITE_RE.match, "may only contain letters, digits and _ . : -")
_vendor = _rule(_VENDOR_RE.match, "must be a lower-case id like 'axis'")
_role = _rule(ROLES.__contains__, f"is not one of {', '.join(ROLES)}")
_proto = _rule(lambda t: t.lower() in PROTOS, "is not one of tcp, udp, any", str.lower)


def _mac(t: str) -> tuple[Any, str]:
    if not _MAC_RE.match(t.lower().replace(".", "")):
        return None, f"{t!r} is not a MAC address"
    digits = re.sub(r"[^0-9a-f]", "", t.lower())
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2)), ""


def _network(want: str) -> Check:
    """A check for an address (want='ip'), a CIDR network ('cidr') or either ('any')."""

    def check(t: str) -> tuple[Any, str]:
        if want == "ip" and "/" in t:
            return None, f"{t!r} is not an IP address (use 'cidr' for a network)"
        if want == "cidr" and "/" not in t:
            return None, f"{t!r} is not a CIDR network like 10.20.1.0/24 (use 'ip' for one host)"
        try:
            return ipaddress.ip_network(t, strict=True), ""
        except ValueError:
            pass
        try:
            loose = ipaddress.ip_network(t, strict=False)
        except ValueError:
            return None, f"{t!r} is not {'a CIDR network' if '/' in t else 'an IP address'}"
        return None, f"{t!r} has host bits set (did you mean {loose}?)"

    return check


_FIELD_CHECKS: dict[str, Check] = {"vendor": _vendor, "role": _role, "mac": _mac}


class _Checker:
    """Walks the composed YAML node tree, converting values and collecting every error."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[tuple[int, str]] = []
        self.warnings: list[str] = []

    def err(self, node: Node, path: str, msg: str) -> None:
        self.errors.append((_ln(node), f"{path}: {msg}" if path else msg))

    def policy(self, root: Node) -> Policy:
        top = self.mapping(root, "", _TOP_KEYS, "the policy") or {}
        site = self.value(top["site"], "site", _site) if "site" in top else None
        closed = top.get("closed_networks")
        nets = (
            [n for n, _ in self.networks(closed, "closed_networks")] if closed is not None else []
        )
        devices = self.devices(top["devices"], nets) if "devices" in top else ()
        services = self.services(top["services"], nets) if "services" in top else Services()
        allow = self.allow_rules(top["allow"]) if "allow" in top else ()
        mirror = self.mirror(top["mirror"]) if "mirror" in top else MirrorPorts()
        limits = self.limits(top["limits"]) if "limits" in top else Limits()
        if self.errors or site is None:
            errors = sorted(self.errors, key=lambda e: e[0])
            raise ConfigError("\n".join(f"{self.source}:{ln}: {msg}" for ln, msg in errors))
        warnings = tuple(self.warnings)
        return Policy(
            site, tuple(nets), devices, services, allow, self.source, warnings, mirror, limits
        )

    def limits(self, node: Node) -> Limits:
        """Bounds on tracked devices and findings per device (whole numbers from 1)."""
        m = self.mapping(node, "limits", _LIMIT_KEYS, "limits") or {}
        values: dict[str, int] = {}
        for key, vnode in m.items():
            text = vnode.value if isinstance(vnode, yaml.ScalarNode) else ""
            if vnode.tag != _INT or not text.isdigit() or int(text) < 1:
                self.err(vnode, f"limits.{key}", f"{_kind(vnode)} is not a whole number from 1")
            else:
                values[key] = int(text)
        return Limits(**values)

    def mirror(self, node: Node) -> MirrorPorts:
        """Extra UDP ports of VXLAN and Geneve mirror tunnels."""
        m = self.mapping(node, "mirror", _MIRROR_KEYS, "mirror") or {}
        lists: dict[str, tuple[int, ...]] = {}
        for key, vnode in m.items():
            ranges = self.ports(vnode, f"mirror.{key}") or ()
            ports = sorted({p for lo, hi in ranges for p in range(lo, hi + 1)})
            lists[key.removesuffix("_ports")] = tuple(ports)
        return MirrorPorts(**lists)

    def mapping(self, node: Node, path: str, keys: dict[str, bool], what: str) -> Mapping:
        """The known keys of a mapping; reports non-string, duplicate, unknown, missing keys."""
        if not isinstance(node, yaml.MappingNode):
            self.err(node, path, f"{what} must be a mapping, not {_kind(node)}")
            return None
        out: dict[str, Node] = {}
        for knode, vnode in node.value:
            key = knode.value if isinstance(knode, yaml.ScalarNode) and knode.tag != _NULL else None
            kpath = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str):
                self.err(knode, path, f"the keys of {what} must be strings")
            elif key in out:
                self.err(knode, kpath, f"duplicate key (first at line {_ln(out[key])})")
            elif key not in keys:
                near = difflib.get_close_matches(key, list(keys), n=1)
                hint = f"did you mean '{near[0]}'?" if near else f"allowed: {', '.join(keys)}"
                self.err(knode, kpath, f"unknown key ({hint})")
            else:
                out[key] = vnode
        for key in (k for k, required in keys.items() if required and k not in out):
            self.err(node, path, f"missing required key '{key}'")
        return out

    def seq(self, node: Node, path: str, example: str) -> list[Node]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        self.err(node, path, f"must be a list, not {_kind(node)} (e.g. {example})")
        return []

    def value(self, node: Node, path: str, check: Check | None = None) -> Any:
        """A non-empty scalar's raw text, converted by ``check`` (None after an error)."""
        if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL or not node.value.strip():
            self.err(node, path, f"must be a non-empty string, not {_kind(node)}")
            return None
        value, problem = check(node.value.strip()) if check else (node.value.strip(), "")
        if problem:
            self.err(node, path, problem)
        return value

    def networks(self, node: Node, path: str) -> list[tuple[Network, Node]]:
        """A list of addresses/networks; duplicates and overlaps are errors."""
        out: list[tuple[Network, Node]] = []
        items = self.seq(node, path, "[10.20.0.0/16]")
        if not items and isinstance(node, yaml.SequenceNode) and path == "closed_networks":
            self.err(node, path, "must list at least one network")
        for i, item in enumerate(items):
            net = self.value(item, f"{path}[{i}]", _network("any"))
            j = next((j for j, (o, _) in enumerate(out) if net and net.overlaps(o)), None)
            if j is not None:
                msg = f"{net} overlaps {path}[{j}] {out[j][0]} (line {_ln(out[j][1])})"
                self.err(item, f"{path}[{i}]", msg)
            elif net is not None:
                out.append((net, item))
        return out

    def devices(self, node: Node, closed: list[Network]) -> tuple[DeviceEntry, ...]:
        """Inventory entries; duplicate names, equal ips, overlapping cidrs are errors."""
        seen: list[tuple[DeviceEntry, Network, Node, str]] = []
        names: dict[str, Node] = {}
        hosts: dict[Network, tuple[Node, str]] = {}  # every ip and address so far
        for i, item in enumerate(self.seq(node, "devices", "[{ip: 10.20.0.11}]")):
            parsed = self.device(item, f"devices[{i}]")
            if parsed is None:
                continue
            dev, net, anode, apath, extra = parsed
            if dev.ip is not None and ".addresses[" in hosts.get(net, (anode, ""))[1]:
                self.err(anode, apath, _taken(net, hosts))
            elif dev.ip is not None:
                hosts.setdefault(net, (anode, apath))
            for addr, xnode, xpath in extra:
                self.host_address(addr, xnode, xpath, hosts, closed)
            if dev.name in names:
                first = f"(first at line {_ln(names[dev.name])})"
                self.err(item, f"devices[{i}].name", f"duplicate device name {dev.name!r} {first}")
            elif dev.name is not None:
                names[dev.name] = item
            if closed and not _inside(net, closed):
                self.err(anode, apath, f"{dev.ip or net} is outside closed_networks")
            same = [c for c in seen if (c[0].ip is None) == (dev.ip is None)]
            clash = next((c for c in same if net.overlaps(c[1])), None)
            if clash is None:
                seen.append((dev, net, anode, apath))
                continue
            what = f"{dev.ip} is already defined by" if dev.ip else f"{net} overlaps"
            self.err(anode, apath, f"{what} {clash[3]} {fmt_net(clash[1])} (line {_ln(clash[2])})")
        return tuple(d for d, _, _, _ in seen)

    def device(self, node: Node, path: str) -> _Parsed | None:
        """One device: exactly one of ip/cidr, valid vendor/role/mac (mac normalised), and
        the host's further ``addresses`` (with their nodes and paths)."""
        m = self.mapping(node, path, _DEVICE_KEYS, "a device")
        if m is not None and ("ip" in m) == ("cidr" in m):
            self.err(node, path, "needs exactly one of 'ip' or 'cidr'")
        if m is None or ("ip" in m) == ("cidr" in m):
            return None
        akey = "ip" if "ip" in m else "cidr"
        net = self.value(m[akey], f"{path}.{akey}", _network(akey))
        if "mac" in m and akey == "cidr":
            self.err(m["mac"], f"{path}.mac", "a mac belongs to one host: use it with 'ip'")
        if "addresses" in m and akey == "cidr":
            msg = "addresses belong to one host: use them with 'ip'"
            self.err(m["addresses"], f"{path}.addresses", msg)
        f = {k: self.value(m[k], f"{path}.{k}", _FIELD_CHECKS.get(k)) if k in m else None
             for k in _TEXT_FIELDS}  # fmt: skip
        has_more = "addresses" in m and akey == "ip"
        extra = self.addresses(m["addresses"], f"{path}.addresses", net) if has_more else []
        if net is None:
            return None
        ip = str(net.network_address) if akey == "ip" else None
        others = tuple(str(a.network_address) for a, _, _ in extra)
        entry = DeviceEntry(ip, None if ip else str(net), **f, addresses=others)
        return entry, net, m[akey], f"{path}.{akey}", extra

    def addresses(self, node: Node, path: str, own: Network | None) -> list[_Address]:
        """A host's further addresses: single IPs, none repeated, none its own ``ip``."""
        out: list[_Address] = []
        for j, item in enumerate(self.seq(node, path, "[fd20::11]")):
            addr = self.value(item, f"{path}[{j}]", _network("ip"))
            twin = next((where for a, _, where in out if a == addr), None)
            if addr is not None and addr == own:
                self.err(item, f"{path}[{j}]", f"{fmt_net(addr)} is the entry's own ip")
            elif twin is not None:
                self.err(item, f"{path}[{j}]", f"{fmt_net(addr)} repeats {twin}")
            elif addr is not None:
                out.append((addr, item, f"{path}[{j}]"))
        return out

    def host_address(
        self,
        addr: Network,
        node: Node,
        path: str,
        hosts: dict[Network, tuple[Node, str]],
        closed: list[Network],
    ) -> None:
        """One of a host's further addresses: inside the closed networks, no other host's."""
        if closed and not _inside(addr, closed):
            self.err(node, path, f"{fmt_net(addr)} is outside closed_networks")
        elif addr in hosts:
            self.err(node, path, _taken(addr, hosts))
        else:
            hosts[addr] = (node, path)

    def services(self, node: Node, closed: list[Network]) -> Services:
        """Service lists per kind; an address outside the closed networks is a warning."""
        lists: dict[str, tuple[Network, ...]] = {}
        kinds = self.mapping(node, "services", dict.fromkeys(SERVICE_KINDS, False), "services")
        for kind, vnode in (kinds or {}).items():
            nets = self.networks(vnode, f"services.{kind}")
            for net, nnode in (x for x in nets if closed and not _inside(x[0], closed)):
                where = f"{self.source}:{_ln(nnode)}: services.{kind}: {fmt_net(net)}"
                self.warnings.append(f"{where} is outside closed_networks; traffic to it leaves")
            lists[kind] = tuple(n for n, _ in nets)
        return Services(**lists)

    def allow_rules(self, node: Node) -> tuple[AllowRule, ...]:
        """Allow rules: from/to addresses or networks, optional ports and proto."""
        rules: list[AllowRule] = []
        for i, item in enumerate(self.seq(node, "allow", "[{from: A, to: B, ports: [554]}]")):
            path = f"allow[{i}]"
            m = self.mapping(item, path, _ALLOW_KEYS, "an allow rule") or {}
            src = self.value(m["from"], f"{path}.from", _network("any")) if "from" in m else None
            dst = self.value(m["to"], f"{path}.to", _network("any")) if "to" in m else None
            ports = self.ports(m["ports"], f"{path}.ports") if "ports" in m else ()
            proto = self.value(m["proto"], f"{path}.proto", _proto) if "proto" in m else "any"
            if src is None or dst is None or ports is None or proto is None:
                continue
            if src.version != dst.version:
                self.err(item, path, "'from' and 'to' must be of the same IP version")
            else:
                rules.append(AllowRule(src, dst, ports, proto))
        return tuple(rules)

    def ports(self, node: Node, path: str) -> tuple[tuple[int, int], ...] | None:
        """Ports and 'a-b' ranges (None when any of them is malformed)."""
        items = self.seq(node, path, "[554, 8000-8010]")
        out = [_parse_ports(item) for item in items]
        for i, (item, rng) in enumerate(zip(items, out, strict=True)):
            if rng is None:
                self.err(item, f"{path}[{i}]", f"{_kind(item)} is not a port 1-65535 or a-b range")
        good = tuple(r for r in out if r is not None)
        return good if isinstance(node, yaml.SequenceNode) and len(good) == len(out) else None


def _parse_ports(node: Node) -> tuple[int, int] | None:
    if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL:
        return None
    match = _PORTS_RE.match(node.value.strip())
    if match is None or (node.tag == _INT and not node.value.isdigit()):
        return None
    lo, hi = int(match.group(1)), int(match.group(2) or match.group(1))
    return (lo, hi) if 1 <= lo <= hi <= 65535 else None
