"""Write the two flood captures of the flows-at-scale benchmark, deterministically.

* ``scan``: 1,000,000 TCP SYNs over 100 s of packet time from 16 closed-network sources
  (10.20.0.1-16) to 512 outside addresses (198.51.100.0/24 and 203.0.113.0/24) on
  varying ports, as a Mirai-style bot on a camera scans: every SYN a new flow.
* ``spoof``: the same from 65,536 sources (10.20.x.y), a spoofed flood.

Frames are 60-byte Ethernet/IPv4/TCP SYNs (padded as a mirror port shows them), valid
IPv4 checksums, microsecond pcap, ~76 MB each. Built with numpy in one pass.

Usage: python bench/make_flood.py [--packets N] [--out-dir bench/data] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

EPOCH_S = 1_710_230_400
SECONDS = 100.0
FRAME = 60
CAMERA_MAC = bytes.fromhex("4419b6000001")  # a Hikvision OUI
GATEWAY_MAC = bytes.fromhex("001122334455")


def _be(values: np.ndarray, width: int) -> np.ndarray:
    """Big-endian bytes of ``values``, one row each."""
    out = np.zeros((values.size, width), dtype=np.uint8)
    v = values.astype(np.uint64)
    for k in range(width):
        out[:, width - 1 - k] = (v >> np.uint64(8 * k)) & np.uint64(0xFF)
    return out


def flood(n: int, sources: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``n`` SYN frames (n x 60 bytes) from ``sources`` to the two documentation /24s."""
    src = sources[rng.integers(0, sources.size, n)]
    dst_host = rng.integers(0, 512, n)
    dst = np.where(dst_host < 256, 0xC6336400 + dst_host, 0xCB007100 + dst_host - 256)
    sport = rng.integers(1024, 65536, n)
    dport = rng.choice(np.array([23, 2323, 80, 8080, 443, 554, 37215, 52869, 7547, 5555]), n)
    dport = np.where(rng.random(n) < 0.5, dport, rng.integers(1, 65536, n))
    seq = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    f = np.zeros((n, FRAME), dtype=np.uint8)
    f[:, 0:6] = np.frombuffer(GATEWAY_MAC, np.uint8)
    f[:, 6:12] = np.frombuffer(CAMERA_MAC, np.uint8)
    f[:, 12:14] = (0x08, 0x00)
    ip = f[:, 14:34]
    ip[:, 0], ip[:, 2:4], ip[:, 8], ip[:, 9] = 0x45, (0, 40), 64, 6
    ip[:, 4:6] = _be(np.arange(n) & 0xFFFF, 2)
    ip[:, 12:16] = _be(src, 4)
    ip[:, 16:20] = _be(dst, 4)
    words = ip.astype(np.uint32)
    total = ((words[:, 0::2] << 8) | words[:, 1::2]).sum(axis=1)
    while (total >> 16).any():
        total = (total & 0xFFFF) + (total >> 16)
    ip[:, 10:12] = _be(~total & 0xFFFF, 2)
    tcp = f[:, 34:54]
    tcp[:, 0:2], tcp[:, 2:4] = _be(sport, 2), _be(dport, 2)
    tcp[:, 4:8] = _be(seq, 4)
    tcp[:, 12], tcp[:, 13], tcp[:, 14:16] = 0x50, 0x02, (0x72, 0x10)  # SYN, window 29200
    return f


def write_pcap(path: Path, frames: np.ndarray, start_s: float, seconds: float) -> None:
    n = frames.shape[0]
    ts_us = (start_s * 1e6 + np.arange(n) * (seconds * 1e6 / n)).astype(np.int64)
    rec = np.zeros((n, 16 + FRAME), dtype=np.uint8)
    rec[:, 0:4] = (ts_us // 1_000_000).astype("<u4").view(np.uint8).reshape(n, 4)
    rec[:, 4:8] = (ts_us % 1_000_000).astype("<u4").view(np.uint8).reshape(n, 4)
    rec[:, 8:12] = np.frombuffer(np.uint32(FRAME).tobytes(), np.uint8)
    rec[:, 12:16] = np.frombuffer(np.uint32(FRAME).tobytes(), np.uint8)
    rec[:, 16:] = frames
    header = np.array([0xA1B2C3D4, 0x00040002, 0, 0, 262144, 1], dtype="<u4").tobytes()
    header = header[:4] + np.array([2, 4], "<u2").tobytes() + header[8:]
    with path.open("wb") as fh:
        fh.write(header)
        fh.write(rec.tobytes())
    Path(str(path) + ".count").write_text(f"{n}\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent / "data")
    ap.add_argument("--seed", type=int, default=9)
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    kinds = {
        "scan": 0x0A140001 + np.arange(16),  # 10.20.0.1-16
        "spoof": 0x0A140000 + np.arange(65536),  # 10.20.x.y
    }
    for name, sources in kinds.items():
        rng = np.random.default_rng(args.seed)
        frames = flood(args.packets, sources.astype(np.uint64), rng)
        path = args.out_dir / f"flood-{name}.pcap"
        write_pcap(path, frames, EPOCH_S, SECONDS * args.packets / 1_000_000)
        print(f"wrote {path}: {args.packets:,} SYNs from {sources.size:,} sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
