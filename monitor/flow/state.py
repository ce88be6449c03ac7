"""The mutable per-flow state the flow table keeps (Zeek's orig/resp vocabulary)."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.decode.tls_session import TlsSession

TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK = 0x01, 0x02, 0x04, 0x10


@dataclass(slots=True)
class Observation:
    """Something a dissector learned from one packet of a flow."""

    ts: float
    what: str  # "sni", "quic_sni", "http_host", "dns_query", "upnp_mapping", "signature", ...
    value: str
    detail: str = ""


@dataclass(slots=True)
class FlowState:
    """Counters and observations of one bidirectional flow.

    ``orig_is_low`` says whether the originator is the canonical low endpoint of the key;
    ``head_seen`` counts packets already handed to the dissectors. ``icmp_errors`` counts
    the ICMP errors among ``resp_pkts`` (about the originator's packets, from the
    responder or a router on the way): they are counted, but they are no answer. The
    ``verdict`` and attribution fields are filled by the classifier when the flow settles.
    """

    key: int
    uid: str
    proto: int
    orig_addr: str
    orig_port: int
    resp_addr: str
    resp_port: int
    orig_is_low: bool
    first_ts: float
    last_ts: float
    orig_pkts: int = 0
    orig_bytes: int = 0
    resp_pkts: int = 0
    resp_bytes: int = 0
    orig_flags: int = 0
    resp_flags: int = 0
    icmp_errors: int = 0
    head_seen: int = 0
    segment_start: tuple[float, int, int, int, int] | None = None
    observations: list[Observation] = field(default_factory=list)
    tls: TlsSession | None = None  # TLS/QUIC flows: hellos, fingerprints, certificate
    settled: bool = False
    verdict: str = ""
    device: str = ""
    peer: str = ""
    device_label: str = ""
    vendor_label: str = "unknown"
    peer_name: str | None = None
    vendor: str | None = None
    endpoint: str | None = None
    reasons: list[str] = field(default_factory=list)
    count_keys: tuple[tuple[str, ...], ...] = ()
    committed: tuple[int, int, int, int] = (0, 0, 0, 0)  # totals already in the counters
    findings_checked: int = -1  # observations there were when findings were last looked for
    finding_kinds: list[str] = field(default_factory=list)
    finding_details: list[tuple[str | None, str | None]] = field(default_factory=list)

    @property
    def packets(self) -> int:
        return self.orig_pkts + self.resp_pkts

    @property
    def bytes(self) -> int:
        return self.orig_bytes + self.resp_bytes

    @property
    def closed(self) -> bool:
        """A FIN or RST was seen (the connection is ending)."""
        return bool((self.orig_flags | self.resp_flags) & (TCP_FIN | TCP_RST))

    @property
    def answered(self) -> bool:
        """The responder sent something other than a reset or an ICMP error."""
        return self.resp_pkts > self.icmp_errors and self.state() != "REJ"

    def state(self) -> str:
        """A Zeek-like connection state: S0 (no answer), REJ, SF, RSTO/RSTR, S1, OTH."""
        replies = self.resp_pkts - self.icmp_errors
        if self.proto != 6:
            return "SF" if replies else "S0"
        o, r = self.orig_flags, self.resp_flags
        if replies == 0:
            return "S0"
        if r & TCP_RST and not r & TCP_SYN and replies <= 1:
            return "REJ"
        if (o | r) & TCP_RST:
            return "RSTO" if o & TCP_RST else "RSTR"
        if o & TCP_FIN and r & TCP_FIN:
            return "SF"
        if o & TCP_SYN and r & TCP_SYN:
            return "S1"
        return "OTH"

    def observed(self, what: str) -> list[Observation]:
        """Observations of one kind, oldest first."""
        return [o for o in self.observations if o.what == what]
