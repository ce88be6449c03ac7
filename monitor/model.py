"""Value types shared by every layer: frame batches, verdicts, findings, flow records.

Exception tree::

    MonitorError
     ├── ConfigError      a site policy that cannot be used (names file, line, key)
     ├── CaptureError     an input or interface that cannot be opened at all
     └── DecodeError      bytes a dissector cannot make sense of (never escapes a dissector)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from monitor.audit import GapSummary, InterfaceDrops, Provenance
from monitor.model_facts import DeviceFact as DeviceFact  # re-exported
from monitor.model_facts import FactConflict as FactConflict  # re-exported
from monitor.model_flowref import FlowRef as FlowRef  # re-exported
from monitor.model_tls import TlsCertificate as TlsCertificate  # re-exported
from monitor.model_tls import TlsClientPrint as TlsClientPrint  # re-exported

if TYPE_CHECKING:  # numpy only names the column types: commands that read no packet skip it
    import numpy as np
    import numpy.typing as npt


class MonitorError(Exception):
    """Root of every error cctv-monitor raises on purpose."""


class ConfigError(MonitorError):
    """A site policy that cannot be used; the message names file, line and key."""


class CaptureError(MonitorError):
    """An input file or interface that cannot be opened at all."""


class DecodeError(MonitorError):
    """Bytes that a dissector cannot make sense of."""


class Verdict(StrEnum):
    """What a flow is, from the closed network's point of view (a metric label value)."""

    INTERNAL = "internal"
    SERVICE = "service"
    DISCOVERY = "discovery"
    EGRESS = "egress"
    VENDOR_CLOUD = "vendor_cloud"
    INBOUND = "inbound"


class FindingKind(StrEnum):
    """The closed list of things worth a finding (CONTRACT.md §3)."""

    EGRESS = "egress"
    VENDOR_CLOUD = "vendor_cloud"
    VENDOR_LOOKUP = "vendor_lookup"
    EXTERNAL_RESOLVER = "external_resolver"
    UPNP_PORT_MAPPING = "upnp_port_mapping"
    INBOUND = "inbound"


class EndReason(StrEnum):
    """Why a flow record was written."""

    IDLE_TIMEOUT = "idle_timeout"
    ACTIVE_TIMEOUT = "active_timeout"
    TCP_CLOSE = "tcp_close"
    EVICTED = "evicted"
    END_OF_INPUT = "end_of_input"


# Link types (LINKTYPE_* values of the pcap/pcapng specs).
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
# DLT_RAW is 12 (or 14 on OpenBSD) inside libpcap; files written by it say 101.
DLT_RAW_ALIASES = (12, 14)

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58

_PROTO_NAMES = {
    IPPROTO_ICMP: "icmp",
    IPPROTO_TCP: "tcp",
    IPPROTO_UDP: "udp",
    IPPROTO_ICMPV6: "icmp6",
}


def proto_name(proto: int) -> str:
    """Name an IP protocol number the way the report does ("tcp", "udp", "ip-47")."""
    return _PROTO_NAMES.get(proto, f"ip-{proto}")


@dataclass(frozen=True, slots=True)
class FrameBatch:
    """Many captured frames of one link type, packed for vectorised decoding.

    Frame ``i`` is ``data[offset[i] : offset[i] + caplen[i]]``; ``wirelen[i]`` is its
    original length on the wire, or 0 when the source did not say (rebuilt from the IP
    header by the decoder). ``ts`` is UNIX seconds. ``source`` indexes the input list.
    """

    data: bytes | memoryview  # a memoryview into a reused read buffer for raw files
    ts: npt.NDArray[np.float64]
    offset: npt.NDArray[np.int64]
    caplen: npt.NDArray[np.int64]
    wirelen: npt.NDArray[np.int64]
    linktype: int
    source: int = 0

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def frame(self, i: int) -> bytes:
        """The bytes of frame ``i``."""
        start = int(self.offset[i])
        return bytes(self.data[start : start + int(self.caplen[i])])


@dataclass(slots=True)
class InputSummary:
    """What was read from one input file (CONTRACT.md §4 ``inputs[]``)."""

    path: str
    packets: int = 0
    bytes: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    truncated: bool = False
    errors: list[str] = field(default_factory=list)
    format: str = ""
    undecodable: int = 0
    size: int | None = None  # bytes on disk; None when the file could not be opened
    sha256: str | None = None  # of the file on disk, hashed while it was read
    read_bytes: int = 0  # capture bytes read up to where reading ended (decompressed for .gz)
    damage_offset: int | None = None  # capture byte offset where reading stopped early
    duplicate_of: str | None = None  # an earlier input with the same SHA-256: not read again
    interface_drops: list[InterfaceDrops] = field(default_factory=list)  # pcapng ISBs

    @property
    def complete(self) -> bool:
        """Every packet of the file was counted (a duplicate's through the input it repeats)."""
        if self.duplicate_of is not None:
            return True
        return bool(self.format) and not self.truncated and not self.errors


@dataclass(slots=True)
class MirrorSession:
    """One tunnel that delivered mirrored traffic (the report's ``coverage.mirror_sessions``).

    ``kind`` is gre, erspan1, erspan2, erspan3, vxlan, geneve, ipip or ip6ip (``other``: the
    sessions beyond the first 1,024, counted together); ``session_id``
    the GRE key, ERSPAN session or VXLAN/Geneve VNI (None when the tunnel has none);
    ``bytes`` counts the frames as received, tunnel headers included.
    """

    kind: str
    outer_src: str
    outer_dst: str
    session_id: int | None
    packets: int = 0
    bytes: int = 0
    first_ts: float | None = None
    last_ts: float | None = None

    def to_json(self) -> dict[str, object]:
        """The report's JSON object for this session."""
        return {
            "kind": self.kind,
            "outer_src": self.outer_src,
            "outer_dst": self.outer_dst,
            "session_id": self.session_id,
            "packets": self.packets,
            "bytes": self.bytes,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
        }


@dataclass(slots=True)
class Finding:
    """One flagged flow or event, with what proves it (CONTRACT.md §3 and §4)."""

    kind: FindingKind
    device: str
    peer: str | None
    peer_port: int | None
    proto: str
    peer_name: str | None
    vendor: str | None
    endpoint: str | None
    answered: bool
    first_ts: float
    last_ts: float
    packets: int
    bytes: int
    evidence: str
    flow_uid: str = ""
    flows: int = 1
    peers: int | None = None  # summary findings: distinct peers folded in
    ports: int | None = None  # summary findings: distinct peer ports folded in
    sample_peers: list[str] | None = None  # summary findings: the first few peers
    query_name: str | None = None  # DNS-kind findings: the name the device asked for
    ja3: str | None = None  # TLS/QUIC: the client's JA3, JA3S of the server, JA4 (client)
    ja3s: str | None = None
    ja4: str | None = None
    tls_certificate: TlsCertificate | None = None  # the server's, when sent in clear
    flow_ref: FlowRef | None = None  # the flow flow_uid names: 5-tuple, ids (EVE lines)

    @property
    def community_id(self) -> str | None:
        """The Community ID v1 of the flow ``flow_uid`` names (None when unknown)."""
        return self.flow_ref.community_id if self.flow_ref is not None else None

    @property
    def is_summary(self) -> bool:
        """True for the finding that stands for the peers beyond the per-device bound."""
        return self.peers is not None

    def to_json(self) -> dict[str, object]:
        """The contract's JSON object for this finding (summary fields on summaries)."""
        out: dict[str, object] = {
            "kind": self.kind.value,
            "device": self.device,
            "peer": self.peer,
            "peer_port": self.peer_port,
            "proto": self.proto,
            "peer_name": self.peer_name,
            "vendor": self.vendor,
            "endpoint": self.endpoint,
            "answered": self.answered,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "packets": self.packets,
            "bytes": self.bytes,
            "evidence": self.evidence,
            "flow_uid": self.flow_uid,
            "flows": self.flows,
            "query_name": self.query_name,  # after the contract's fields, as additions go
            "ja3": self.ja3,
            "ja3s": self.ja3s,
            "ja4": self.ja4,
            "tls_certificate": self.tls_certificate.to_json() if self.tls_certificate else None,
            "community_id": self.community_id,
        }
        if self.is_summary:
            out["peers"] = self.peers
            out["ports"] = self.ports
            out["sample_peers"] = list(self.sample_peers or ())
        return out


@dataclass(slots=True)
class FlowRecord:
    """One bidirectional flow as exported (Zeek conn.log vocabulary: orig/resp)."""

    uid: str
    proto: str
    orig_addr: str
    orig_port: int
    resp_addr: str
    resp_port: int
    first_ts: float
    last_ts: float
    orig_pkts: int
    orig_bytes: int
    resp_pkts: int
    resp_bytes: int
    state: str
    verdict: Verdict
    device: str
    peer: str
    peer_name: str | None
    vendor: str | None
    endpoint: str | None
    end_reason: EndReason
    findings: tuple[FindingKind, ...] = ()
    query_name: str | None = None  # DNS flows: the first name asked (peer_name is the peer's)
    ja3: str | None = None  # TLS/QUIC flows: the client's JA3, the server's JA3S, JA4
    ja3s: str | None = None
    ja4: str | None = None
    tls_certificate: TlsCertificate | None = None  # the server's, when sent in clear
    community_id: str | None = None  # Community ID v1 (None: an ICMP type not captured)


@dataclass(slots=True)
class DeviceSummary:
    """One closed-network host as the report shows it (CONTRACT.md §4 ``devices[]``).

    ``name``, ``vendor`` and ``role`` come from the inventory when it lists the host, else
    vendor and role are the best guess from traffic; ``hostname`` is the name the device
    gives itself (DHCP, mDNS, discovery); ``services`` the ``port/proto`` it answered on.
    ``addresses`` lists every address of the device, ``ip`` (the primary one) first: one
    host seen at several (IPv4 and IPv6, one MAC, one inventory entry) is one device.
    """

    ip: str
    name: str | None = None
    vendor: str | None = None
    role: str | None = None
    mac: str | None = None
    packets: int = 0
    bytes: int = 0
    flows: int = 0
    findings: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    bytes_by_verdict: dict[str, int] = field(default_factory=dict)
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    hostname: str | None = None
    services: list[str] = field(default_factory=list)
    evidence: list[DeviceFact] = field(default_factory=list)
    conflicts: list[FactConflict] = field(default_factory=list)
    bytes_sent_by_verdict: dict[str, int] = field(default_factory=dict)  # what it sent
    addresses: list[str] = field(default_factory=list)  # all of them, ``ip`` first
    tls_fingerprints: list[TlsClientPrint] = field(default_factory=list)  # as a TLS client

    def add_bytes(self, verdict: str, size: int, sent: int) -> None:
        """Count a flow's ``size`` bytes (both ways) under ``verdict``, ``sent`` by this host."""
        self.bytes_by_verdict[verdict] = self.bytes_by_verdict.get(verdict, 0) + size
        if sent:
            self.bytes_sent_by_verdict[verdict] = self.bytes_sent_by_verdict.get(verdict, 0) + sent


@dataclass(slots=True)
class AuditResult:
    """Everything a replay learned; the report layer renders it, nothing else.

    ``snapshots`` are the metric counters sampled over packet time, for ``--metrics-out``;
    each is a :class:`monitor.counters.Snapshot` (typed loosely to keep model import-free).
    """

    site: str
    inputs: list[InputSummary]
    packets: int
    bytes: int
    flow_count: int
    devices: list[DeviceSummary]
    findings: list[Finding]
    flows: list[FlowRecord]
    snapshots: list[object] = field(default_factory=list)
    names: list[tuple[str, str, str]] = field(default_factory=list)  # (source, name, detail)
    mirror_sessions: list[MirrorSession] = field(default_factory=list)
    decode_errors: dict[str, int] = field(default_factory=dict)  # layer -> frames
    devices_overflow: int = 0  # hosts beyond the device limit, counted as device "other"
    silent_hosts: list[DeviceSummary] = field(default_factory=list)  # only ever destinations
    silent_overflow: int = 0  # silent hosts beyond the limit, only counted
    flow_evictions: int = 0  # flows ended early because the flow table was full
    readable: bool = True  # False when not a single input could be opened as a capture
    gaps: GapSummary = field(default_factory=GapSummary)  # packet-time gaps over a threshold
    provenance: Provenance | None = None  # set by the command that writes the report

    @property
    def verdict(self) -> str:
        """``"no_data"`` when no packet was read, ``"findings"`` when at least one finding
        was raised, else ``"clean"`` (which may still rest on incomplete coverage)."""
        if self.packets == 0 and not self.findings:
            return "no_data"
        return "findings" if self.findings else "clean"
