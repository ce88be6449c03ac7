"""Seed inputs per target, cut from the sample captures and the shared real captures."""

from __future__ import annotations

import contextlib
import gzip
import zlib
from pathlib import Path

from monitor.capture.offline import OfflineSource
from monitor.decode.frames import decode_batch

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT.parent / "shared" / "pcaps-real"
HEAD_BYTES = 64 * 1024
FRAMES_PER_FILE = 64


def capture_files() -> list[Path]:
    """pcaps/ and, when present, ../shared/pcaps-real (every capture, damaged ones too)."""
    files = sorted((ROOT / "pcaps").glob("*.pcap*"))
    if REAL.is_dir():
        files += sorted(p for p in REAL.iterdir() if p.is_file() and p.suffix != ".md")
    return files


def _raw_head(path: Path) -> bytes:
    with open(path, "rb") as fp:
        head = fp.read(HEAD_BYTES)
    if head[:2] == b"\x1f\x8b":
        with contextlib.suppress(OSError, EOFError, zlib.error):
            head = gzip.decompress(path.read_bytes())[:HEAD_BYTES]
    return head


def reader_seeds(files: list[Path]) -> list[bytes]:
    """[window][batch size][gzip flag] + the first 64 KiB of each capture, raw and gzipped."""
    seeds = []
    for i, path in enumerate(files):
        head = _raw_head(path)
        seeds.append(bytes([i % 13, 63, 0]) + head)
        seeds.append(bytes([(i + 5) % 13, 7, 1]) + head[:8192])
    return seeds


def _frames(path: Path) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    for batch in OfflineSource([str(path)], batch_size=FRAMES_PER_FILE).batches():
        out += [(batch.linktype, batch.frame(i)) for i in range(len(batch))]
        break
    return out


def decoder_seeds(files: list[Path]) -> list[bytes]:
    """The first frames of each capture in the decoder target's framing."""
    from tools.fuzz.targets import LINKTYPES

    seeds = []
    for path in files:
        frames = _frames(path)
        if not frames:
            continue
        linktype = frames[0][0]
        select = LINKTYPES.index(linktype) if linktype in LINKTYPES else 0
        body = b"".join(len(f).to_bytes(2, "big") + f for _, f in frames if len(f) < 2048)
        seeds.append(bytes([select, 0]) + body)
    return seeds


def dissector_seeds(files: list[Path]) -> list[bytes]:
    """Every distinct TCP/UDP payload start of the first frames, once per dissector."""
    from tools.fuzz.targets import DISSECTOR_NAMES

    payloads: set[bytes] = set()
    for path in files:
        for batch in OfflineSource([str(path)], batch_size=FRAMES_PER_FILE * 4).batches():
            d = decode_batch(batch)
            for i in range(len(batch)):
                size = int(d.payload_len[i])
                if d.ip[i] and size > 0:
                    start = int(batch.offset[i]) + int(d.payload_off[i])
                    payloads.add(bytes(batch.data[start : start + min(size, 1500)]))
            break
    ordered = sorted(payloads)
    return [bytes([i % len(DISSECTOR_NAMES)]) + p for i, p in enumerate(ordered)]


def seeds_for(target: str) -> list[bytes]:
    """Seeds of one target (may be empty when no capture is at hand)."""
    files = capture_files()
    if target == "reader":
        return reader_seeds(files)
    if target in ("decoder", "pipeline"):
        return decoder_seeds(files)
    if target == "dissectors":
        return dissector_seeds(files)
    raise KeyError(target)
