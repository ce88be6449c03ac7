"""The auditor's question, answered from an AuditResult: is the closed network closed?

Traffic *crossed* the boundary when a flow's verdict is ``egress``, ``vendor_cloud`` or
``inbound`` (so also DNS to an outside resolver, whose flow is ``egress``). The answer
names the devices that crossed it, the vendor endpoints they reached or looked up, how
many bytes they sent out (and exchanged both ways), and the first and last time. Findings
that did not cross (a vendor name asked of the site's own resolver, a port mapping request
to the local gateway) are listed as still needing a look. Every format renders this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.model import AuditResult, DeviceSummary, Finding, FindingKind
from monitor.report._common import iso_utc
from monitor.text import human_bytes, plural

CROSSING_VERDICTS = ("egress", "vendor_cloud", "inbound")
_CROSSING_KINDS = {FindingKind.EGRESS, FindingKind.VENDOR_CLOUD, FindingKind.INBOUND}
_VENDOR_KINDS = {FindingKind.VENDOR_CLOUD, FindingKind.VENDOR_LOOKUP}


@dataclass(slots=True)
class DeviceOutside:
    """One device whose traffic crossed the boundary."""

    ip: str
    name: str | None
    kinds: list[str] = field(default_factory=list)  # crossing finding kinds, contract order
    endpoints: list[str] = field(default_factory=list)  # vendor endpoints it reached
    peer_set: set[str] = field(default_factory=set)  # outside addresses with findings
    folded: int = 0  # further outside addresses counted in summary findings
    sent: int = 0  # bytes it sent to outside addresses
    sent_by_verdict: dict[str, int] = field(default_factory=dict)  # of those, per verdict
    exchanged: int = 0  # bytes both ways
    first_ts: float | None = None
    last_ts: float | None = None

    @property
    def peers(self) -> int:
        """How many outside addresses it exchanged traffic with."""
        return len(self.peer_set) + self.folded


@dataclass(slots=True)
class EndpointUse:
    """One vendor endpoint that devices reached (``vendor_cloud``) or looked up only."""

    endpoint: str
    vendor: str | None
    reached: bool = False
    names: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    flows: int = 0
    bytes: int = 0
    first_ts: float | None = None
    last_ts: float | None = None


@dataclass(slots=True)
class Answer:
    """Whether the closed network held (None: nothing was read), and the proof."""

    closed: bool | None
    devices: list[DeviceOutside]
    endpoints: list[EndpointUse]
    peers: int
    sent: int
    exchanged: int
    first_ts: float | None
    last_ts: float | None
    not_crossing: list[Finding]  # findings that stayed inside but need a look


def crosses(f: Finding, inside: set[str]) -> bool:
    """Whether a finding's traffic went past the closed network's boundary.

    An ``external_resolver`` finding crosses when its resolver is not a closed-network
    host (``inside``: every address of the devices and of the hosts only ever seen as
    destinations); a summary when any sample peer is not.
    """
    if f.kind in _CROSSING_KINDS:
        return True
    if f.kind != FindingKind.EXTERNAL_RESOLVER:
        return False
    peers = list(f.sample_peers or ()) if f.is_summary else [f.peer or ""]
    return any(p and p not in inside for p in peers)


def addresses(dev: DeviceSummary) -> list[str]:
    """Every address of ``dev``, its primary ``ip`` first."""
    more = getattr(dev, "addresses", None) or []
    return [dev.ip, *(a for a in more if a != dev.ip)]


def sent_outside(dev: DeviceSummary) -> dict[str, int]:
    """Bytes ``dev`` sent in flows that crossed the boundary, per verdict."""
    sent = getattr(dev, "bytes_sent_by_verdict", None) or {}
    return {v: int(sent.get(v, 0)) for v in CROSSING_VERDICTS}


def exchanged_outside(dev: DeviceSummary) -> int:
    """Bytes both ways in ``dev``'s flows that crossed the boundary."""
    return sum(int(dev.bytes_by_verdict.get(v, 0)) for v in CROSSING_VERDICTS)


def answer(result: AuditResult) -> Answer:
    """The answer and its proof (see the module doc)."""
    known = {a: d for d in result.devices for a in addresses(d)}  # every address of each
    inside = set(known) | {a for d in getattr(result, "silent_hosts", []) for a in addresses(d)}
    crossing = [f for f in result.findings if crosses(f, inside)]
    crossed = {id(f) for f in crossing}
    devices: dict[str, DeviceOutside] = {}
    for dev in result.devices:
        if exchanged_outside(dev):
            devices[dev.ip] = _outside(dev)
    for f in crossing:
        owner = known.get(f.device) or DeviceSummary(ip=f.device)
        outside = devices.get(owner.ip)
        if outside is None:
            outside = devices[owner.ip] = _outside(owner)
        _account(outside, f)
    ordered = sorted(devices.values(), key=lambda d: (-d.sent, -d.exchanged, d.ip))
    firsts = [d.first_ts for d in ordered if d.first_ts is not None]
    lasts = [d.last_ts for d in ordered if d.last_ts is not None]
    return Answer(
        closed=None if result.packets == 0 else not ordered,
        devices=ordered,
        endpoints=_endpoints(result.findings),
        peers=len(set().union(*(d.peer_set for d in ordered))) + sum(d.folded for d in ordered),
        sent=sum(d.sent for d in ordered),
        exchanged=sum(d.exchanged for d in ordered),
        first_ts=min(firsts, default=None),
        last_ts=max(lasts, default=None),
        not_crossing=[f for f in result.findings if id(f) not in crossed],
    )


def _outside(dev: DeviceSummary) -> DeviceOutside:
    sent = sent_outside(dev)
    return DeviceOutside(
        ip=dev.ip,
        name=dev.name,
        sent=sum(sent.values()),
        sent_by_verdict=sent,
        exchanged=exchanged_outside(dev),
    )


def _account(dev: DeviceOutside, f: Finding) -> None:
    if str(f.kind) not in dev.kinds:
        dev.kinds.append(str(f.kind))
        dev.kinds.sort(key=lambda k: list(FindingKind).index(FindingKind(k)))
    if f.endpoint and f.kind == FindingKind.VENDOR_CLOUD and f.endpoint not in dev.endpoints:
        dev.endpoints.append(f.endpoint)
    if f.is_summary:
        dev.folded += f.peers or 0
    elif f.peer:
        dev.peer_set.add(f.peer)
    dev.first_ts = f.first_ts if dev.first_ts is None else min(dev.first_ts, f.first_ts)
    dev.last_ts = f.last_ts if dev.last_ts is None else max(dev.last_ts, f.last_ts)


def _endpoints(findings: list[Finding]) -> list[EndpointUse]:
    """Vendor endpoints by first time: reached (vendor_cloud) or only looked up."""
    uses: dict[str, EndpointUse] = {}
    for f in sorted(findings, key=lambda f: f.first_ts):
        if f.kind not in _VENDOR_KINDS or not f.endpoint:
            continue
        use = uses.setdefault(f.endpoint, EndpointUse(f.endpoint, f.vendor))
        name = f.peer_name
        if f.kind == FindingKind.VENDOR_LOOKUP:
            name = getattr(f, "query_name", None) or f.peer_name
        if f.kind == FindingKind.VENDOR_CLOUD:
            use.reached = True
            use.flows += f.flows
            use.bytes += f.bytes
        if name and name not in use.names:
            use.names.append(name)
        if f.device not in use.devices:
            use.devices.append(f.device)
        use.first_ts = f.first_ts if use.first_ts is None else min(use.first_ts, f.first_ts)
        use.last_ts = f.last_ts if use.last_ts is None else max(use.last_ts, f.last_ts)
    return sorted(uses.values(), key=lambda u: (not u.reached, u.first_ts or 0.0, u.endpoint))


def elapsed_text(seconds: float) -> str:
    """``0.5 s``, ``3 min 44 s``, ``2 h 5 min``, ``3 d 4 h``."""
    if seconds < 60:
        return f"{seconds:.3g} s"
    s = int(seconds)
    for big, big_unit, small, small_unit in (
        (86400, "d", 3600, "h"),
        (3600, "h", 60, "min"),
        (60, "min", 1, "s"),
    ):
        if s >= big:
            rest = (s % big) // small
            return f"{s // big} {big_unit}" + (f" {rest} {small_unit}" if rest else "")
    return f"{s} s"  # pragma: no cover


def capture_span(result: AuditResult) -> tuple[float, float] | None:
    """First and last packet time over every input, None when nothing was read."""
    firsts = [i.first_ts for i in result.inputs if i.first_ts is not None]
    lasts = [i.last_ts for i in result.inputs if i.last_ts is not None]
    return (min(firsts), max(lasts)) if firsts and lasts else None


def answer_sentences(
    result: AuditResult, ans: Answer, esc: Callable[[str], str] = str
) -> list[str]:
    """The answer in plain sentences, most important first.

    ``esc`` is applied to the names from data (endpoints, vendors, kinds), so a format
    can escape them and leave the sentence's own punctuation alone (Markdown).
    """
    if ans.closed is None:
        return ["Not known: no packet could be read, so this report proves nothing."]
    out = []
    if ans.closed:
        out.append("Yes: no traffic crossed the boundary of the closed network.")
    else:
        addresses = plural(ans.peers, "address outside", "addresses outside")
        when = f"from {iso_utc(ans.first_ts)} to {iso_utc(ans.last_ts)}"
        out.append(
            f"No: {plural(len(ans.devices), 'device')} exchanged traffic with {addresses} "
            f"the closed network, {when}."
        )
        out.append(
            f"They sent {_size(ans.sent)} out; with the answers, {_size(ans.exchanged)} "
            "crossed the boundary."
        )
    reached = [u for u in ans.endpoints if u.reached]
    if reached:
        names = ", ".join(_endpoint_name(u, esc) for u in reached)
        out.append(f"{plural(len(reached), 'vendor endpoint')} reached: {names}.")
    looked = [u for u in ans.endpoints if not u.reached]
    if looked:
        names = ", ".join(_endpoint_name(u, esc) for u in looked)
        out.append(f"Looked up but not reached: {names}.")
    if ans.not_crossing:
        devices = len({f.device for f in ans.not_crossing})
        kinds = [esc(k) for k in sorted({str(f.kind) for f in ans.not_crossing}, key=_kind_rank)]
        out.append(
            f"{plural(len(ans.not_crossing), 'finding')} on {plural(devices, 'device')} "
            f"stayed inside but need a look ({', '.join(kinds)})."
        )
    span = capture_span(result)
    if span is not None:
        out.append(
            f"The capture covers {iso_utc(span[0])} to {iso_utc(span[1])} "
            f"({elapsed_text(span[1] - span[0])})."
        )
    return out


def _size(n: int) -> str:
    """``10,998 bytes (10.7 KiB)``; ``1 byte``, ``512 bytes``."""
    return plural(n, "byte") if n < 1024 else f"{n:,} bytes ({human_bytes(n)})"


def _endpoint_name(use: EndpointUse, esc: Callable[[str], str]) -> str:
    return f"{esc(use.endpoint)} ({esc(use.vendor)})" if use.vendor else esc(use.endpoint)


def _kind_rank(kind: str) -> int:
    return [k.value for k in FindingKind].index(kind)
