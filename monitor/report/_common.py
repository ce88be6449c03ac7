"""What every report format shares: ordering, counting, headline, time and size text."""

from __future__ import annotations

import functools
import ipaddress
import math
import unicodedata
from collections import Counter
from datetime import UTC, datetime

from monitor.model import (
    AuditResult,
    DeviceSummary,
    FactConflict,
    Finding,
    FindingKind,
    InputSummary,
    Verdict,
)
from monitor.text import human_bytes, plural

KIND_MEANING: dict[FindingKind, str] = {
    FindingKind.EGRESS: "flow to or from an address outside the closed networks",
    FindingKind.VENDOR_CLOUD: "flow to a vendor cloud, P2P, DDNS or telemetry endpoint",
    FindingKind.VENDOR_LOOKUP: "DNS query for a catalogued vendor name",
    FindingKind.EXTERNAL_RESOLVER: "DNS, DoT or DoH to a resolver that is not a listed service",
    FindingKind.UPNP_PORT_MAPPING: "UPnP IGD, PCP or NAT-PMP port mapping request",
    FindingKind.INBOUND: "flow started from outside towards a device",
}
VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)
_KIND_RANK: dict[str, int] = {k.value: i for i, k in enumerate(FindingKind)}


@functools.lru_cache(maxsize=1 << 16)  # reports sort the same few addresses many times
def ip_key(ip: str) -> tuple[int, int, str]:
    """Sort addresses numerically (IPv4 before IPv6), anything else after, by text."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return (9, 0, ip)
    return (addr.version, int(addr), ip)


def sorted_devices(result: AuditResult) -> list[DeviceSummary]:
    """Devices by address."""
    return sorted(result.devices, key=lambda d: ip_key(d.ip))


def finding_key(f: Finding) -> tuple[object, ...]:
    """Findings by first time, then device, kind, peer and port."""
    return (
        f.first_ts,
        ip_key(f.device),
        _KIND_RANK.get(f.kind, 99),
        ip_key(f.peer or ""),
        f.peer_port or 0,
    )


def sorted_findings(result: AuditResult) -> list[Finding]:
    """Findings in report order (see :func:`finding_key`)."""
    return sorted(result.findings, key=finding_key)


def count_by_kind(findings: list[Finding]) -> dict[str, int]:
    """Findings per kind, every kind present (zero when none), in contract order."""
    tally = Counter(str(f.kind) for f in findings)
    return {k.value: tally.get(k.value, 0) for k in FindingKind}


def count_by_device(findings: list[Finding]) -> dict[str, int]:
    """Findings per device address, devices with findings only, by address."""
    tally = Counter(f.device for f in findings)
    return {ip: tally[ip] for ip in sorted(tally, key=ip_key)}


def devices_per_kind(findings: list[Finding]) -> dict[str, int]:
    """How many distinct devices have at least one finding of each kind."""
    seen = {(str(f.kind), f.device) for f in findings}
    return {k.value: sum(1 for kind, _ in seen if kind == k.value) for k in FindingKind}


def grouped_findings(result: AuditResult) -> list[tuple[str, list[tuple[str, list[Finding]]]]]:
    """Findings grouped by device (by address) then kind (contract order)."""
    groups: dict[str, dict[str, list[Finding]]] = {}
    for f in sorted(result.findings, key=lambda f: (ip_key(f.device), finding_key(f))):
        groups.setdefault(f.device, {}).setdefault(str(f.kind), []).append(f)
    ordered = []
    for device, by_kind in groups.items():
        kinds = sorted(by_kind, key=lambda k: _KIND_RANK.get(k, 99))
        ordered.append((device, [(k, by_kind[k]) for k in kinds]))
    return ordered


def bytes_by_verdict(device: DeviceSummary) -> dict[str, int]:
    """A device's bytes per verdict: every verdict in contract order, then any others."""
    out = {v: int(device.bytes_by_verdict.get(v, 0)) for v in VERDICTS}
    for extra in sorted(set(device.bytes_by_verdict) - set(VERDICTS)):
        out[extra] = int(device.bytes_by_verdict[extra])
    return out


def headline(result: AuditResult) -> str:
    """The one-line verdict an auditor reads first: ``WORD: sentence`` (see verdict_line)."""
    return ": ".join(verdict_line(result))


def verdict_line(result: AuditResult) -> tuple[str, str]:
    """The verdict in words and the sentence after it.

    ``NO DATA`` when no packet was read; ``FINDINGS`` with how many on how many devices
    (and ``over incomplete data:`` with the reasons when the coverage is incomplete: there
    may be more); ``CLEAN over incomplete data`` with the reasons from
    :func:`coverage_notes` when the verdict rests on less than every packet of the
    capture; else ``CLEAN``.
    """
    if result.verdict == "no_data":
        return "NO DATA", "not a single packet could be read, so nothing is shown either way"
    notes = "; ".join(coverage_notes(result))
    if result.findings:
        devices = plural(len({f.device for f in result.findings}), "device")
        counted = f"{plural(len(result.findings), 'finding')} on {devices}"
        return "FINDINGS", f"{counted} over incomplete data: {notes}" if notes else counted
    if notes:
        return "CLEAN over incomplete data", notes
    return "CLEAN", "no traffic left the closed network"


def coverage_notes(result: AuditResult) -> list[str]:
    """Why the verdict does not cover the whole capture, a phrase per reason (empty: it does).

    Inputs not read to their end (unreadable, cut short, damaged, packet blocks skipped),
    frames that could not be decoded (per layer), gaps longer than the threshold without
    any packet, and packets the capture itself recorded as dropped (pcapng statistics).
    Inputs skipped as duplicates are not a reason: their content was counted once.
    """
    notes = []
    partial = [i for i in result.inputs if not i.complete]
    if partial:
        shown = ", ".join(_input_note(i) for i in partial[:3]) + (", ..." if partial[3:] else "")
        notes.append(f"{plural(len(partial), 'input')} not read completely ({shown})")
    layers = {k: v for k, v in sorted(result.decode_errors.items()) if v}
    if layers:
        per_layer = ", ".join(f"{k}: {v:,}" for k, v in layers.items())
        notes.append(f"{plural(sum(layers.values()), 'frame')} could not be decoded ({per_layer})")
    gaps = result.gaps
    if gaps.total and gaps.threshold is not None:
        notes.append(
            f"{plural(gaps.total, 'gap')} of more than {duration_text(gaps.threshold)} without "
            f"any packet (longest {duration_text(gaps.longest)})"
        )
    dropped = sum(d.dropped for i in result.inputs for d in i.interface_drops)
    if dropped:
        notes.append(f"{plural(dropped, 'packet')} dropped while capturing (pcapng statistics)")
    return notes


def _input_note(inp: InputSummary) -> str:
    name = inp.path.replace("\\", "/").rsplit("/", 1)[-1]
    if not inp.format:
        return f"{name}: unreadable"
    if inp.damage_offset is not None:
        return f"{name}: stopped at byte {inp.damage_offset:,}"
    return f"{name}: {plural(len(inp.errors), 'error')}"


def duration_text(seconds: float) -> str:
    """``45 s``, ``12.5 min``, ``3.2 h``, ``2.1 d``."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def input_problems(inp: InputSummary) -> list[str]:
    """What went wrong reading one input (empty when it was read completely)."""
    problems = []
    if inp.duplicate_of is not None:
        problems.append("SKIPPED: same content as an earlier input")
    if inp.truncated:
        problems.append("TRUNCATED")
    if inp.errors:
        problems.append(plural(len(inp.errors), "error").upper())
    if inp.undecodable:
        problems.append(f"{plural(inp.undecodable, 'undecodable frame')}")
    return problems


def caveats(result: AuditResult) -> list[str]:
    """Warnings that qualify the verdict: what the coverage lacks (damaged inputs, frames
    not decoded, gaps, drops), nothing read, duplicates skipped, evictions, overflow."""
    notes = []
    damaged = [i for i in result.inputs if not i.complete]
    if damaged:
        notes.append(
            f"{plural(len(damaged), 'input')} could not be read completely; "
            "the verdict covers only the packets that were read."
        )
    if result.packets == 0:
        notes.append("No packets were read: there is no verdict (no_data).")
    for inp in result.inputs:
        if inp.duplicate_of is not None:
            notes.append(
                f"{inp.path} has the same content (SHA-256) as {inp.duplicate_of}: "
                "it was counted once, this copy was skipped."
            )
    gaps = result.gaps
    if gaps.total and gaps.threshold is not None:
        notes.append(
            f"The capture has {plural(gaps.total, 'gap')} of more than "
            f"{duration_text(gaps.threshold)} without any packet ({duration_text(gaps.seconds)} "
            f"in all, the longest {duration_text(gaps.longest)}): was the capture running?"
        )
    dropped = sum(d.dropped for i in result.inputs for d in i.interface_drops)
    if dropped:
        notes.append(
            f"The capture recorded {plural(dropped, 'packet')} as dropped (pcapng interface "
            "statistics); the verdict cannot cover them."
        )
    if result.flow_evictions:
        notes.append(
            f"{plural(result.flow_evictions, 'flow')} ended early because the flow table was "
            "full; a flow that went on was counted again as a new flow."
        )
    if result.devices_overflow:
        notes.append(
            f"{plural(result.devices_overflow, 'further host')} beyond the device limit "
            "are counted together as the device 'other' (limits.devices in the policy)."
        )
    undecodable = {k: v for k, v in result.decode_errors.items() if v}
    for layer, count in sorted(undecodable.items()):
        why = DECODE_GAPS.get(layer, f"{layer} layer")
        notes.append(
            f"{plural(count, 'frame')} could not be decoded ({why}); "
            "the verdict does not cover them."
        )
    return notes


# decode error layers that hide whole frames from the verdict, and why
DECODE_GAPS = {
    "vlan": "more than 8 VLAN tags",
    "tunnel": "tunnels nested more than 4 deep",
    "ip": "an IP header cut short or malformed",
}


def mirror_rows(result: AuditResult) -> list[list[str]]:
    """One row of plain text per mirror session: kind, outer endpoints, id, counts, times."""
    return [
        [
            s.kind,
            f"{s.outer_src} -> {s.outer_dst}",
            "-" if s.session_id is None else str(s.session_id),
            f"{s.packets:,}",
            bytes_text(s.bytes),
            iso_utc(s.first_ts),
            iso_utc(s.last_ts),
        ]
        for s in result.mirror_sessions
    ]


MIRROR_HEADER = ["tunnel", "outer endpoints", "session / VNI", "packets", "bytes", "first", "last"]
# what the peer is, per kind (the header of the peer column)
PEER_HEADER: dict[str, str] = {
    "egress": "outside address",
    "vendor_cloud": "vendor endpoint address",
    "vendor_lookup": "resolver asked",
    "external_resolver": "resolver",
    "upnp_port_mapping": "gateway asked",
    "inbound": "from (outside)",
}
SILENT_NOTE = (
    "Closed-network addresses seen only as destinations: they never sent a packet in the "
    "capture (a device that was off, an address a scan probed). They are no devices; "
    "findings about them still name them."
)


SilentRow = tuple[str, int, int, int, int, float | None, float | None]


def silent_rows(result: AuditResult) -> list[SilentRow]:
    """The silent hosts as (address, packets and bytes received, flows, findings, first,
    last), most packets first."""
    hosts = sorted(result.silent_hosts, key=lambda d: (-d.packets, d.ip))
    return [(d.ip, d.packets, d.bytes, d.flows, d.findings, d.first_ts, d.last_ts) for d in hosts]


def silent_overflow_text(result: AuditResult) -> str:
    """The sentence about silent hosts beyond the limit, or ``""``."""
    n = result.silent_overflow
    if not n:
        return ""
    return f"{plural(n, 'more address', 'more addresses')} beyond the limit, counted as other."


MIRROR_NOTE = (
    "The mirror arrived inside these tunnels; flows, devices and findings come from the "
    "frames they carry."
)


def iso_utc(ts: float | None) -> str:
    """UTC ISO 8601 with milliseconds (``2024-05-01T12:00:00.000Z``), ``-`` when unknown."""
    if ts is None or not math.isfinite(ts):
        return "-"
    try:
        stamp = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return repr(ts)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def bytes_text(n: int) -> str:
    """Exact and human: ``1,572,864 B (1.5 MiB)``; just ``512 B`` when small."""
    return f"{n:,} B" if abs(n) < 1024 else f"{n:,} B ({human_bytes(n)})"


def port_text(f: Finding) -> str:
    """``443/tcp``, or just ``icmp`` when there is no port (``812 ports`` for a summary)."""
    if f.is_summary:
        return f"{plural(f.ports or 0, 'port')} ({f.proto})"
    return f.proto if f.peer_port is None else f"{f.peer_port}/{f.proto}"


def peer_text(f: Finding) -> str:
    """The peer's address; for a summary finding how many peers, with a few of them."""
    if not f.is_summary:
        return f.peer or "-"
    samples = ", ".join(f.sample_peers or ())
    return f"{plural(f.peers or 0, 'peer')}" + (f", e.g. {samples}" if samples else "")


def clean_text(value: object) -> str:
    """Text safe to lay out: line breaks as spaces, other control or invisible chars as U+FFFD.

    Newlines, terminal escapes and bidi overrides from packets must not rearrange a report.
    """
    text = "" if value is None else str(value)
    return "".join(_clean_char(ch) for ch in text)


def _clean_char(ch: str) -> str:
    if ch in "\t\n\r":
        return " "
    return "\ufffd" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch


def device_label(devices: dict[str, DeviceSummary], ip: str) -> str:
    """``10.20.0.11 (cam-hansa-01, hikvision, camera)`` from the inventory, or just the IP."""
    dev = devices.get(ip)
    extra = [x for x in (dev.name, dev.vendor, dev.role) if x] if dev else []
    return f"{ip} ({', '.join(extra)})" if extra else ip


IDENTIFIED_BY = ("vendor", "model", "role")


def identified_by(dev: DeviceSummary) -> str:
    """How the traffic named the device: the strongest source of vendor, model and role."""
    seen: dict[str, str] = {}
    for f in dev.evidence:  # ordered by fact, then confidence (strongest first)
        if f.fact in IDENTIFIED_BY and f.fact not in seen and f.confidence != "declared":
            seen[f.fact] = f"{f.fact} {f.value}: {f.source} ({f.confidence})"
    return "; ".join(seen[k] for k in IDENTIFIED_BY if k in seen)


def has_facts(dev: DeviceSummary) -> bool:
    """Whether anything beyond counters is known about the device."""
    return bool(dev.evidence or dev.services or dev.model or dev.firmware or dev.hostname)


def conflicts(result: AuditResult) -> list[tuple[DeviceSummary, FactConflict]]:
    """Every disagreement between the inventory and the traffic, devices by address."""
    return [(d, c) for d in sorted_devices(result) for c in d.conflicts]


def conflict_text(c: FactConflict) -> str:
    """``vendor: inventory axis, traffic hikvision (MAC OUI 44:19:B6 ..., high)``; a TLS
    client fingerprint change says what came before and after instead."""
    if c.fact == "tls_client_fingerprint":
        return f"{c.fact}: earlier {c.inventory}, then {c.observed} ({c.source}, {c.confidence})"
    return f"{c.fact}: inventory {c.inventory}, traffic {c.observed} ({c.source}, {c.confidence})"
