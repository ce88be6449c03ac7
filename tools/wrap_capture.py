"""Wrap every frame of a capture in a mirror tunnel, as a remote mirror session sends it.

    python tools/wrap_capture.py IN.pcap[.gz] OUT.pcap --kind erspan2 [--vni 5001]

Kinds: gre (transparent Ethernet bridging), gre-ip (the IP packet only), erspan1, erspan2,
erspan3, vxlan, geneve, ipip (the IP packet only). The outer frame runs from a switch
(10.99.0.1) to the sensor (10.99.0.2); timestamps are kept. Used to build tunnelled
versions of the sample and benchmark captures; headers are packed with struct, so a
million frames take seconds (tests/tunnelbuild.py builds the same with scapy, and the
tests hold the two to the same decoded result).
"""

from __future__ import annotations

import argparse
import gzip
import struct
import sys
from collections.abc import Iterator
from typing import BinaryIO

KINDS = ("gre", "gre-ip", "erspan1", "erspan2", "erspan3", "vxlan", "geneve", "ipip")
OUTER_ETH = bytes.fromhex("020000990002020000990001")
SWITCH, SENSOR = bytes([10, 99, 0, 1]), bytes([10, 99, 0, 2])
VLAN_TYPES = (0x8100, 0x88A8, 0x9100)


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ipv4(proto: int, payload: bytes, ident: int) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0, 64,
                         proto, 0, SWITCH, SENSOR)  # fmt: skip
    return header[:10] + struct.pack("!H", _checksum(header)) + header[12:] + payload


def _ip_packet(frame: bytes) -> tuple[int, bytes]:
    """(EtherType, IP packet) of an Ethernet frame; VLAN tags skipped."""
    at = 12
    (etype,) = struct.unpack_from("!H", frame, at)
    while etype in VLAN_TYPES:
        at += 4
        (etype,) = struct.unpack_from("!H", frame, at)
    return etype, frame[at + 2 :]


def wrap_frame(frame: bytes, kind: str, seq: int, session: int = 7) -> bytes | None:
    """``frame`` (Ethernet) inside one tunnel of ``kind``; ``seq`` numbers the packets.

    None when the tunnel cannot carry the frame (IP-in-IP carries only IPv4 and IPv6).
    """
    if kind in ("gre", "erspan1", "erspan2", "erspan3"):
        if kind == "gre":
            gre = struct.pack("!HH", 0, 0x6558)
        elif kind == "erspan1":
            gre = struct.pack("!HH", 0, 0x88BE)
        elif kind == "erspan2":
            span = struct.pack("!HHI", 0x1000 | 20, session & 0x3FF, 0)
            gre = struct.pack("!HHI", 0x1000, 0x88BE, seq) + span
        else:
            span = struct.pack("!HHIHH", 0x2000 | 30, session & 0x3FF, seq, 0, 0)
            gre = struct.pack("!HHI", 0x1000, 0x22EB, seq) + span
        packet = _ipv4(47, gre + frame, seq)
    elif kind == "gre-ip":
        etype, ip = _ip_packet(frame)
        packet = _ipv4(47, struct.pack("!HH", 0, etype) + ip, seq)
    elif kind == "ipip":
        etype, ip = _ip_packet(frame)
        if etype not in (0x0800, 0x86DD):
            return None
        packet = _ipv4(4 if etype == 0x0800 else 41, ip, seq)
    elif kind in ("vxlan", "geneve"):
        if kind == "vxlan":
            header, port = struct.pack("!II", 0x08000000, session << 8), 4789
        else:
            header, port = struct.pack("!HHI", 0, 0x6558, session << 8), 6081
        body = header + frame
        udp = struct.pack("!HHHH", 49152 + seq % 16384, port, 8 + len(body), 0) + body
        packet = _ipv4(17, udp, seq)
    else:
        raise ValueError(f"unknown tunnel kind {kind!r} (one of {', '.join(KINDS)})")
    return OUTER_ETH + b"\x08\x00" + packet


def _records(fp: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """(record header, frame) of a classic Ethernet pcap; the file header is checked."""
    head = fp.read(24)
    magic = head[:4]
    if magic not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") or head[20:24] != b"\x01\0\0\0":
        raise SystemExit("wrap_capture: only little-endian Ethernet pcap files are supported")
    while rec := fp.read(16):
        incl = struct.unpack_from("<I", rec, 8)[0]
        yield rec, fp.read(incl)


def wrap_file(src: str, dst: str, kind: str, session: int = 7) -> int:
    """Write ``src`` wrapped in ``kind`` to ``dst``; return the number of frames written."""
    opener = gzip.open if src.endswith(".gz") else open
    count = 0
    with opener(src, "rb") as fin, open(dst, "wb") as fout:
        fin.seek(0)
        header = fin.read(24)
        fout.write(header[:16] + struct.pack("<I", 262144) + header[20:])
        fin.seek(0)
        for rec, frame in _records(fin):  # type: ignore[arg-type]
            wrapped = wrap_frame(frame, kind, count, session)
            if wrapped is None:
                continue
            orig_len = struct.unpack_from("<I", rec, 12)[0]
            grown = len(wrapped) - len(frame)
            fout.write(rec[:8] + struct.pack("<II", len(wrapped), orig_len + grown) + wrapped)
            count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--kind", choices=KINDS, default="vxlan")
    parser.add_argument("--session", type=int, default=7, help="ERSPAN session id or VNI")
    args = parser.parse_args()
    n = wrap_file(args.src, args.dst, args.kind, args.session)
    print(f"{args.dst}: {n} frames in {args.kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
