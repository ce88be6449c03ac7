"""Frame-level helpers for the sample captures: hosts, a capture, TCP sessions, writers.

Time inside a capture is kept in integer microseconds so that every timestamp,
and every expectation derived from it, is exact.
"""

from __future__ import annotations

import gzip
import ipaddress
import random
import struct
from dataclasses import dataclass, field
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Packet, Raw

START_US = 1_772_438_400_000_000  # 2026-03-02T08:00:00Z
GATEWAY_MAC = "0a:20:00:00:00:01"  # locally administered: a generic router, no vendor OUI
EPHEMERAL = (49152, 65535)


def us(seconds: float) -> int:
    """Seconds to integer microseconds."""
    return round(seconds * 1_000_000)


@dataclass(frozen=True)
class Host:
    """An address as seen on the mirrored segment: IP, the MAC frames carry, TTL it sends."""

    ip: str
    mac: str
    ttl: int = 64


def outside(ip: str, ttl: int = 52) -> Host:
    """A host beyond the gateway: its frames come from and go to the gateway MAC."""
    return Host(ip, GATEWAY_MAC, ttl)


def group(ip: str) -> Host:
    """A multicast or broadcast destination with its derived MAC."""
    addr = ipaddress.ip_address(ip)
    if ip == "255.255.255.255":
        return Host(ip, "ff:ff:ff:ff:ff:ff", 64)
    if addr.version == 6:
        low = addr.packed[-4:]
        return Host(ip, "33:33:" + ":".join(f"{b:02x}" for b in low), 255)
    low = int(addr) & 0x7FFFFF
    return Host(ip, "01:00:5e:" + ":".join(f"{b:02x}" for b in low.to_bytes(3, "big")), 1)


@dataclass(frozen=True)
class Frame:
    ts_us: int
    data: bytes
    iface: int = 0


@dataclass
class Flow:
    """The frames of one expected flow, so expectations are counted, never guessed."""

    frames: list[Frame] = field(default_factory=list)

    @property
    def packets(self) -> int:
        return len(self.frames)

    @property
    def bytes(self) -> int:
        return sum(len(f.data) for f in self.frames)

    @property
    def first_ts(self) -> float:
        return min(f.ts_us for f in self.frames) / 1e6

    @property
    def last_ts(self) -> float:
        return max(f.ts_us for f in self.frames) / 1e6


class Capture:
    """An ordered set of frames plus the findings they are expected to raise."""

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)
        self.frames: list[Frame] = []
        self.findings: list[tuple[Flow, dict[str, object]]] = []
        self.devices: dict[str, dict[str, object]] = {}
        self._ports: set[int] = set()

    def port(self, pair: bool = False) -> int:
        """A fresh ephemeral port, unique within this capture; even with its odd twin if pair."""
        while True:
            p = self.rng.randint(*EPHEMERAL)
            want = {p & ~1, (p & ~1) + 1} if pair else {p}
            if not want & self._ports:
                self._ports |= want
                return min(want)

    def emit(
        self,
        t: float,
        src: Host,
        dst: Host,
        l4: Packet,
        flow: Flow | None = None,
        vlan: int | None = None,
        iface: int = 0,
        df: bool = False,
        ipid: int | None = None,
    ) -> Frame:
        """Wrap ``l4`` in IP and Ethernet, pad to the Ethernet minimum, record it."""
        if ":" in src.ip:
            l3: Packet = IPv6(src=src.ip, dst=dst.ip, hlim=src.ttl) / l4
        else:
            ident = self.rng.randrange(65536) if ipid is None else ipid & 0xFFFF
            l3 = IP(src=src.ip, dst=dst.ip, ttl=src.ttl, id=ident, flags="DF" if df else 0) / l4
        return self.emit_l2(t, Ether(src=src.mac, dst=dst.mac), l3, flow, vlan, iface)

    def emit_l2(
        self,
        t: float,
        eth: Packet,
        payload: Packet,
        flow: Flow | None = None,
        vlan: int | None = None,
        iface: int = 0,
    ) -> Frame:
        pkt = eth / Dot1Q(vlan=vlan) / payload if vlan is not None else eth / payload
        data = bytes(pkt)
        minimum = 64 if vlan is not None else 60  # a mirror port shows padded frames, no FCS
        data += b"\x00" * max(0, minimum - len(data))
        frame = Frame(START_US + us(t), data, iface)
        self.frames.append(frame)
        if flow is not None:
            flow.frames.append(frame)
        return frame

    def udp(
        self,
        t: float,
        src: Host,
        dst: Host,
        sport: int,
        dport: int,
        payload: bytes | Packet,
        flow: Flow | None = None,
        iface: int = 0,
    ) -> Frame:
        return self.emit(t, src, dst, UDP(sport=sport, dport=dport) / payload, flow, iface=iface)

    def expect(self, flow: Flow, **fields: object) -> None:
        """Register the finding ``flow`` must raise (fields per CONTRACT §4)."""
        self.findings.append((flow, fields))

    def expect_device(self, ip: str, **facts: object) -> None:
        """Register what a replay without a site policy must learn about host ``ip``
        (vendor, model, firmware, serial, role, mac, hostname; None: nothing)."""
        known = self.devices.setdefault(ip, {})
        for key, value in facts.items():
            if known.get(key, value) != value:
                raise ValueError(f"{ip}: {key} declared as {known[key]!r} and {value!r}")
            known[key] = value

    def ordered(self) -> list[Frame]:
        return sorted(self.frames, key=lambda f: f.ts_us)


class TcpSession:
    """One TCP connection with correct sequence numbers; ``t`` is its running clock (s)."""

    def __init__(
        self,
        cap: Capture,
        cli: Host,
        srv: Host,
        dport: int,
        t: float,
        rtt: float = 0.002,
        sport: int | None = None,
        iface: int = 0,
    ) -> None:
        self.cap, self.cli, self.srv, self.iface = cap, cli, srv, iface
        self.sport, self.dport = sport or cap.port(), dport
        self.t, self.rtt = t, rtt
        rng = cap.rng
        self.seq = {True: rng.getrandbits(32), False: rng.getrandbits(32)}
        self.ipid = {True: rng.randrange(65536), False: rng.randrange(65536)}
        self.flow = Flow()
        self.mss = 1440 if ":" in cli.ip else 1460

    def seg(
        self,
        from_cli: bool,
        flags: str,
        payload: bytes = b"",
        vlan: int | None = None,
        options: list | None = None,
        ack: bool = True,
    ) -> Frame:
        src, dst = (self.cli, self.srv) if from_cli else (self.srv, self.cli)
        sport, dport = (self.sport, self.dport) if from_cli else (self.dport, self.sport)
        tcp = TCP(
            sport=sport,
            dport=dport,
            seq=self.seq[from_cli] & 0xFFFFFFFF,
            ack=self.seq[not from_cli] & 0xFFFFFFFF if "A" in flags and ack else 0,
            flags=flags,
            window=0 if "R" in flags else (64240 if from_cli else 65160) if "S" in flags else 502,
            options=options or [],
        )
        l4 = tcp / Raw(payload) if payload else tcp
        self.ipid[from_cli] += 1
        frame = self.cap.emit(
            self.t, src, dst, l4, self.flow, vlan, self.iface, df=True, ipid=self.ipid[from_cli]
        )
        self.seq[from_cli] += len(payload) + (1 if "S" in flags or "F" in flags else 0)
        return frame

    def wait(self, seconds: float) -> TcpSession:
        self.t += seconds
        return self

    def syn_options(self) -> list[tuple[str, object]]:
        """The TCP options both ends put on SYN and SYN-ACK (a Linux-like set)."""
        return [
            ("MSS", self.mss),
            ("NOP", None),
            ("NOP", None),
            ("SAckOK", b""),
            ("NOP", None),
            ("WScale", 7),
        ]

    def syn(self, vlan: int | None = None) -> Frame:
        return self.seg(True, "S", vlan=vlan, options=self.syn_options())

    def handshake(self, vlan: int | None = None) -> TcpSession:
        self.syn(vlan)
        self.wait(self.rtt)
        self.seg(False, "SA", options=self.syn_options())
        self.wait(0.0001)
        self.seg(True, "A")
        return self

    def syn_retries(self, gaps: tuple[float, ...] = (1.0, 2.0)) -> TcpSession:
        """A SYN never answered: the kernel retransmits it with the same sequence number."""
        isn = self.seq[True]
        self.syn()
        for gap in gaps:
            self.wait(gap)
            self.seq[True] = isn
            self.syn()
        return self

    def send(
        self, from_cli: bool, data: bytes, acked: bool = True, chunks: list[int] | None = None
    ) -> TcpSession:
        """Send ``data`` in MSS-sized (or given) segments; the other side ACKs after rtt/2."""
        sizes = chunks or [self.mss] * (len(data) // self.mss + 1)
        pos = 0
        for size in sizes:
            part = data[pos : pos + size]
            if not part:
                break
            self.seg(from_cli, "PA" if pos + size >= len(data) else "A", part)
            pos += size
            self.wait(0.00005)
        if acked:
            self.wait(self.rtt / 2)
            self.seg(not from_cli, "A")
        return self

    def exchange(self, request: bytes, response: bytes, think: float = 0.003) -> TcpSession:
        """Client request, server response after ``think``, client ACK."""
        self.send(True, request, acked=False)
        self.wait(self.rtt / 2 + think)
        self.send(False, response)
        return self

    def close(self, from_cli: bool = True) -> TcpSession:
        self.wait(0.01)
        self.seg(from_cli, "FA")
        self.wait(self.rtt / 2)
        self.seg(not from_cli, "FA")
        self.wait(self.rtt / 2)
        self.seg(from_cli, "A")
        return self

    def refuse(self) -> TcpSession:
        """SYN answered by RST: the port is closed."""
        self.syn()
        self.wait(self.rtt)
        self.seq[False] = 0
        self.seg(False, "RA")
        return self


def write_pcap(path: Path, frames: list[Frame], compress: bool = False) -> None:
    """Classic little-endian microsecond pcap, Ethernet; gzip without name or mtime."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    for f in frames:
        sec, usec = divmod(f.ts_us, 1_000_000)
        out.append(struct.pack("<IIII", sec, usec, len(f.data), len(f.data)) + f.data)
    blob = b"".join(out)
    if compress:
        blob = gzip.compress(blob, compresslevel=9, mtime=0)
    path.write_bytes(blob)


def _block(btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def _opt(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def write_pcapng(path: Path, frames: list[Frame], ifaces: list[tuple[str, int]]) -> None:
    """pcapng: one section, one IDB per (name, tsresol exponent), EPBs in time order."""
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _opt(4, b"pcaps/build.py") + _opt(0, b"")
    out = [_block(0x0A0D0D0A, shb)]
    for name, exp in ifaces:
        opts = _opt(2, name.encode()) + _opt(9, bytes([exp])) + _opt(0, b"")
        out.append(_block(1, struct.pack("<HHI", 1, 0, 262144) + opts))
    for f in frames:
        ticks = f.ts_us * 10 ** (ifaces[f.iface][1] - 6)
        hdr = struct.pack(
            "<IIIII", f.iface, ticks >> 32, ticks & 0xFFFFFFFF, len(f.data), len(f.data)
        )
        out.append(_block(6, hdr + f.data))
    path.write_bytes(b"".join(out))
