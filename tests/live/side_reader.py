"""Run inside the sensor's namespace by test_dns_side_capture.py: reads an interface the way a
capture worker does and prints what it saw as JSON.

``python -m tests.live.side_reader IF FRAMES [--bpf EXPR]``: opens the main capture
(libpcap) and the DNS side capture, prints ``open``, then reads until FRAMES frames came
through the main capture (or 60 s pass), like the capture loop: a main batch first, then
the side capture, then the batch's frames are "processed". For every TCP SYN it records
whether the DNS answer for its destination had been read by then.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from scapy.layers.dns import DNS
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from monitor.capture.filtered_socket import FilteredSocketCapture
from monitor.capture.live import CaptureOptions, LiveCapture, wait_readable
from monitor.live.names import DNS_RESPONSES_BPF
from monitor.model import FrameBatch

SYN = 0x02


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("interface")
    p.add_argument("frames", type=int)
    p.add_argument("--bpf")
    args = p.parse_args()
    main_capture = LiveCapture(CaptureOptions(args.interface))
    side = FilteredSocketCapture(CaptureOptions(args.interface, bpf=args.bpf), DNS_RESPONSES_BPF)
    main_capture.open()
    side.open()
    print("open", flush=True)
    answered: set[str] = set()  # addresses of A records read from the side capture
    side_frames: list[str] = []
    syns = early = seen = 0
    end = time.monotonic() + 60
    while seen < args.frames and time.monotonic() < end:
        wait_readable([main_capture.fileno(), side.fileno()], 0.2)
        batch = main_capture.read()
        while (answers := side.read()) is not None:  # after the main batch, as the loop does
            side_frames += [frame.hex() for frame in _frames(answers)]
            answered |= _answered(answers)
        if batch is None:
            continue
        seen += len(batch)
        for dst in _syn_destinations(batch):
            syns += 1
            early += dst not in answered
    stats = side.stats()
    print(json.dumps({"frames": seen, "syns": syns, "syns_before_their_answer": early,
                      "side": side_frames, "side_stats": stats}))  # fmt: skip
    return 0


def _frames(batch: FrameBatch) -> list[bytes]:
    out = []
    for i in range(len(batch)):
        start = int(batch.offset[i])
        out.append(bytes(batch.data[start : start + int(batch.caplen[i])]))
    return out


def _answered(batch: FrameBatch) -> set[str]:
    """The addresses in the A records of the DNS responses in ``batch``."""
    out: set[str] = set()
    for frame in _frames(batch):
        dns = Ether(frame).getlayer(DNS)
        for i in range(dns.ancount if dns is not None else 0):
            record = dns.an[i]
            if record.type == 1:
                out.add(str(record.rdata))
    return out


def _syn_destinations(batch: FrameBatch) -> list[str]:
    out = []
    for frame in _frames(batch):
        packet = Ether(frame)
        if packet.haslayer(TCP) and packet[TCP].flags & SYN:
            out.append(packet[IP].dst)
    return out


if __name__ == "__main__":
    sys.exit(main())
