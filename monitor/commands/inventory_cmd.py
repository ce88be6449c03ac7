"""`cctv-monitor inventory PCAP... > site.yaml`: a site policy skeleton from the traffic.

The captures are replayed under the built-in default policy; what the device facts
(:mod:`monitor.classify.fingerprint`) learned becomes a CONTRACT §2 policy, commented with
its evidence, ready to edit. It is built so that replaying the same captures with it gives
the same findings as without it:

- ``closed_networks`` covers every private address the traffic used (a /24 per network,
  the /16 where several /24s of one /16 were used; /64 and /48 for ULA), and the
  link-local or loopback ranges with a ``cidr`` entry when hosts used them;
- every device is listed, so the inventory never moves a finding's device side; a host
  seen at several addresses (one MAC: IPv4 and IPv6, its boot default and its DHCP
  address) is one entry, ``ip`` its primary address and ``addresses`` the others;
- a silent host (only ever a destination) is no device: it is named in a comment, and
  its address is inside ``closed_networks`` as it was under the default policy;
- ``services.dns`` lists every inside host asked for DNS, including one that never
  answered (a listed DNS service turns DNS to an unlisted inside host into a finding).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable

from monitor.classify.catalog import load_catalog
from monitor.config import DEFAULT_CLOSED, Network, default_policy
from monitor.model import AuditResult, DeviceSummary
from monitor.pipeline import PipelineSettings
from monitor.replay import ReplayRun, run_replay
from monitor.report._common import ip_key, iso_utc

EXIT_CLEAN, EXIT_USAGE, EXIT_UNREADABLE = 0, 2, 3
_SITE = re.compile(r"[A-Za-z0-9_.:-]+\Z")
# Whole default ranges that are listed as they are (with a ``cidr`` device entry) when used.
SPECIAL = tuple(
    ipaddress.ip_network(n) for n in ("169.254.0.0/16", "127.0.0.0/8", "fe80::/10", "::1/128")
)
_PRIVATE = tuple(
    n for n in map(ipaddress.ip_network, DEFAULT_CLOSED) if not n.is_multicast and n not in SPECIAL
)
_SLUG = re.compile(r"[^a-z0-9]+")
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*\Z")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}
ENTRY_KEYS = ("ip", "addresses", "mac", "name", "vendor", "model", "role")
MAX_SILENT_LISTED = 32


def inventory_command(args: argparse.Namespace, settings: PipelineSettings) -> int:
    """Replay ``args.pcaps`` without a policy and print the skeleton on stdout."""
    if not _SITE.match(args.site):
        print(f"cctv-monitor: error: --site {args.site!r}: use letters, digits, _ . : -",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    run = run_replay(args.pcaps, default_policy(), load_catalog(), settings)
    if not run.result.readable:
        print("cctv-monitor: error: no input could be read", file=sys.stderr)
        return EXIT_UNREADABLE
    sys.stdout.write(render_skeleton(run, args.site))
    return EXIT_CLEAN


def _usable_ip(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False  # "other": the hosts beyond the device limit
    return not addr.is_multicast and ip != "255.255.255.255" and not addr.is_unspecified


def closed_networks(addresses: Iterable[str]) -> tuple[list[Network], list[Network]]:
    """(networks covering ``addresses``, the special ranges among them)."""
    groups: dict[Network, set[Network]] = defaultdict(set)
    special: set[Network] = set()
    for text in addresses:
        addr = ipaddress.ip_address(text)
        hit = next((n for n in SPECIAL if addr.version == n.version and addr in n), None)
        if hit is not None:
            special.add(hit)
            continue
        if not any(addr.version == n.version and addr in n for n in _PRIVATE):
            continue
        small, big = (24, 16) if addr.version == 4 else (64, 48)
        net = ipaddress.ip_network(f"{addr}/{small}", strict=False)
        groups[net.supernet(new_prefix=big)].add(net)
    nets: list[Network] = [
        big if len(subs) > 1 else next(iter(subs)) for big, subs in groups.items()
    ]
    nets += special
    collapsed = [
        n
        for version in (4, 6)
        for n in ipaddress.collapse_addresses(x for x in nets if x.version == version)  # type: ignore[misc, type-var]
    ]
    return collapsed, sorted(special, key=lambda n: (n.version, n))


def device_name(dev: DeviceSummary, taken: set[str]) -> str:
    """A unique name: the device's own (slugged), else ``<vendor>-<role>-<last octet>``."""
    last = re.split(r"[.:]", dev.ip)[-1] or "0"
    own = _SLUG.sub("-", (dev.hostname or "").lower()).strip("-")[:48]
    base = own or "-".join(p for p in (dev.vendor, dev.role or "host", last) if p)
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def _scalar(value: str) -> str:
    if _PLAIN.match(value) and value.lower() not in _YAML_WORDS and not _numeric(value):
        return value
    return json.dumps(value)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _entry(dev: DeviceSummary, ips: list[str], name: str) -> str:
    """The device's entry: ``ips[0]`` as its ``ip``, the rest as its ``addresses``."""
    others = "[" + ", ".join(_scalar(a) for a in ips[1:]) + "]" if ips[1:] else None
    values = {"ip": _scalar(ips[0]), "addresses": others, "mac": dev.mac, "name": name}
    values |= {"vendor": dev.vendor, "model": dev.model, "role": dev.role}
    plain = ("ip", "addresses")
    parts = [f"{k}: {v if k in plain else _scalar(str(v))}" for k in ENTRY_KEYS if (v := values[k])]
    return "  - {" + ", ".join(parts) + "}"


def _addresses(dev: DeviceSummary, special: list[Network]) -> list[str]:
    """The device's usable addresses, one outside the special ranges first (the entry's
    ``ip``); empty when every address is link-local or loopback (the ``cidr`` entries)."""
    ips = [a for a in dev.addresses or [dev.ip] if _usable_ip(a)]
    plain = [a for a in ips if not _in_any(a, special)]
    return [plain[0], *(a for a in ips if a != plain[0])] if plain else []


def _in_any(ip: str, nets: Iterable[Network]) -> bool:
    addr = ipaddress.ip_address(ip)
    return any(addr.version == n.version and addr in n for n in nets)


def _evidence_comment(dev: DeviceSummary) -> list[str]:
    """Two comment lines: what the device is, and the strongest sources of each fact."""
    what = [x for x in (dev.vendor, dev.role, dev.model) if x]
    extra = [f"{k} {v}" for k, v in (("firmware", dev.firmware), ("serial", dev.serial)) if v]
    lines = [f"  # {dev.ip}: {' '.join(what) or 'unidentified'}" + "".join(f", {e}" for e in extra)]
    by_fact: dict[str, list[str]] = defaultdict(list)
    for f in dev.evidence:
        if f.fact in ("vendor", "model", "role") and len(by_fact[f.fact]) < 2:
            by_fact[f.fact].append(f"{f.source} ({f.confidence})")
    for fact, sources in by_fact.items():
        lines.append(f"  #   {fact}: {'; '.join(sources)}"[:160])
    if dev.services:
        lines.append(f"  #   answers on: {', '.join(dev.services)}"[:160])
    return [_comment_safe(line) for line in lines]


def _comment_safe(line: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in line)


def _services(run: ReplayRun, inside: list[DeviceSummary], silent: list[str]) -> list[str]:
    assert run.pipeline is not None  # inventory replays in one process
    prints = run.pipeline.prints
    ips = [a for d in inside for a in d.addresses or [d.ip]]
    listed = {*ips, *silent}
    answered, unanswered = prints.dns_servers()
    kinds = {
        "dns": [(ip, "answered DNS") for ip in answered]
        + [(ip, "asked for DNS, never answered: keep it listed or its queries become findings")
           for ip in unanswered],
        "ntp": [(ip, "answered NTP") for ip in ips if "123/udp ntp" in prints.services(ip)],
        "dhcp": [(ip, "served DHCP") for ip in ips if "67/udp dhcp" in prints.services(ip)],
    }  # fmt: skip
    out = ["services:"]
    for kind, hosts in kinds.items():
        hosts = sorted((h for h in hosts if h[0] in listed), key=lambda h: ip_key(h[0]))
        if hosts:
            out.append(f"  {kind}:")
            out += [f"    - {_scalar(ip)}  # {why}" for ip, why in hosts]
    return out if len(out) > 1 else ["services: {}  # no DNS, NTP or DHCP server answered"]


def _silent_comment(result: AuditResult, nets: list[Network]) -> list[str]:
    """The silent hosts (only ever destinations), named in a comment: no devices."""
    broadcasts = {str(n.broadcast_address) for n in nets if n.version == 4 and n.prefixlen < 31}
    hosts = [h for h in result.silent_hosts if h.ip not in broadcasts and _usable_ip(h.ip)]
    more = len(hosts) - MAX_SILENT_LISTED + result.silent_overflow
    if not hosts:
        return []
    out = [
        "  # Only ever seen as destinations, never sending: no devices (inside closed_networks):"
    ]
    out += [f"  #   {h.ip}: {h.packets:,} packets to it" for h in hosts[:MAX_SILENT_LISTED]]
    return out + ([f"  #   and {more:,} more"] if more > 0 else [])


def _header(result: AuditResult, site: str) -> list[str]:
    lines = [
        "# Site policy skeleton written by `cctv-monitor inventory` from what the traffic showed",
        f"# in {len(result.inputs)} capture file{'s' if len(result.inputs) != 1 else ''}:",
    ]
    for inp in result.inputs:
        span = f"{iso_utc(inp.first_ts)} to {iso_utc(inp.last_ts)}"
        damaged = " (read up to the damage)" if inp.truncated or inp.errors else ""
        lines.append(_comment_safe(f"#   {inp.path}: {inp.packets:,} packets, {span}{damaged}"))
    lines += [
        "# Nothing here comes from an inventory: vendor, model and role are guesses from the",
        "# traffic, with their evidence in the comments. Check every entry, rename the site and",
        "# the devices, then `cctv-monitor check-config` it. Replaying the same captures with",
        "# this file gives the same findings as replaying them without a policy.",
        f"site: {_scalar(site)}",
    ]
    return lines


def render_skeleton(run: ReplayRun, site: str) -> str:
    """The policy text (CONTRACT §2) for what ``run`` learned."""
    result = run.result
    devices = sorted(result.devices, key=lambda d: ip_key(d.ip))
    used = [a for d in devices for a in d.addresses or [d.ip] if _usable_ip(a)]
    silent = [h.ip for h in result.silent_hosts if _usable_ip(h.ip)]
    nets, special = closed_networks([*used, *silent])
    entries = [(d, [a for a in _addresses(d, special) if _in_any(a, nets)]) for d in devices]
    entries = [(d, ips) for d, ips in entries if ips]
    out = _header(result, site)
    if nets:
        out.append("# The address ranges the traffic used; multicast and broadcast never leave.")
    else:  # nothing private was seen: the built-in ranges keep the verdicts as they were
        out.append("# No private address was seen: the built-in default ranges.")
        nets = [n for n in map(ipaddress.ip_network, DEFAULT_CLOSED) if not n.is_multicast]
    out.append("closed_networks: [" + ", ".join(_scalar(str(n)) for n in nets) + "]")
    out.append("devices:" if entries or special else "devices: []")
    for net in special:
        out.append(f"  - {{cidr: {_scalar(str(net))}}}  # link-local/loopback hosts, unnamed")
    taken: set[str] = set()
    for dev, ips in entries:
        out += _evidence_comment(dev)
        out.append(_entry(dev, ips, device_name(dev, taken)))
    out += _silent_comment(result, nets)
    out += _services(run, [d for d, _ in entries], silent)
    return "\n".join(out) + "\n"
