"""Each C speedup gives exactly what its numpy/Python twin gives, on any input.

The twins are the fallback when the extensions are not built; these tests are what
keeps the two from drifting apart: real and sample captures batch by batch, and
mutated frames (flipped bytes, cuts, the wrong link type) from Hypothesis.
"""

from __future__ import annotations

import dataclasses
import gzip
import struct
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import CookedLinux, Dot1AD, Dot1Q, Ether
from scapy.layers.ppp import PPP, PPPoE

import monitor.capture.pcapfile as pcapfile
import monitor.capture.pcapng as pcapng
import monitor.capture.window as read_window
import monitor.decode.frames as frames_mod
import monitor.flow.grouping as grouping
import monitor.flow.key_index as key_index
from monitor import speedups
from monitor.capture.offline import OfflineSource
from monitor.decode.frames import decode_batch, decode_batch_numpy
from monitor.flow.grouping import group_batch, group_batch_numpy
from monitor.model import FrameBatch
from tests.framebuild import batch_of
from tests.requirements import unmet
from tests.tunnelbuild import KINDS, wrap
from tools.fuzz.targets import read_all

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT.parent / "shared" / "pcaps-real"
BUILT = not speedups.missing()
needs_c = pytest.mark.skipif(not BUILT, reason="the C speedups are not built")

MACS = {"src": "00:11:22:33:44:55", "dst": "66:77:88:99:aa:bb"}
_INNER = bytes(Ether(**MACS) / IP(src="10.0.0.1", dst="192.0.2.7") / TCP(sport=4000) / b"hello")


def nested(frame: bytes, depth: int) -> bytes:
    for _ in range(depth):
        frame = wrap(frame, "gre-eth")
    return frame


TEMPLATES = [
    bytes(Ether(**MACS) / IP(src="10.0.0.1", dst="192.0.2.7") / TCP(sport=4000, flags="S")),
    bytes(Ether(**MACS) / Dot1Q(vlan=7) / IP() / UDP(sport=53, dport=5353) / (b"x" * 30)),
    bytes(Ether(**MACS) / Dot1AD(vlan=3) / Dot1Q(vlan=9) / IP() / ICMP()),
    bytes(Ether(type=0x8847, **MACS) / MPLS(s=0) / MPLS(s=1) / IP() / UDP() / b"rtp"),
    bytes(Ether(**MACS) / IP(flags="MF", frag=0) / UDP(sport=1, dport=2) / (b"a" * 40)),
    bytes(Ether(**MACS) / IP(frag=5) / (b"b" * 20)),
    bytes(Ether(**MACS) / IPv6(src="fd00::1") / TCP(sport=5, dport=80, flags="PA") / b"GET /"),
    bytes(Ether(**MACS) / IPv6() / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / UDP() / b"z"),
    bytes(Ether(**MACS) / IPv6() / IPv6ExtHdrFragment(offset=3, m=1) / (b"f" * 16)),
    bytes(CookedLinux(proto=0x0800) / IP() / TCP(flags="FA")),
    bytes(IP(src="198.51.100.1", dst="10.0.0.9") / UDP(sport=123, dport=123) / (b"\x1b" * 48)),
    bytes(Ether(type=0x0806, **MACS) / (b"\x00" * 28)),
    *(wrap(_INNER, kind) for kind in KINDS),
    wrap(wrap(wrap(_INNER, "vxlan"), "erspan2"), "gre-key"),
    nested(_INNER, 5),
    bytes(Ether(**MACS) / PPPoE() / PPP(proto=0x0057) / IPv6() / UDP(dport=6000) / b"p"),
    bytes(
        Ether(**MACS)
        / Dot1Q()
        / Dot1Q()
        / Dot1Q()
        / Dot1Q()
        / Dot1Q()
        / Dot1Q()
        / Dot1Q()
        / Dot1Q()
        / Dot1Q()
        / IP()
        / UDP()
    ),
]
# every UDP port probed for VXLAN and Geneve: the tunnel parsers see any UDP payload
ALL_PORTS = np.full(65536, 3, dtype=np.uint8)
LINKTYPES = [1, 1, 1, 113, 101, 228, 229, 12, 0, 108, 276, 9, 147]


@st.composite
def mutated_batches(draw: st.DrawFn) -> FrameBatch:
    """A batch of template frames with bytes overwritten, cut short and mislabelled."""
    count = draw(st.integers(1, 40))
    out, wirelens = [], []
    for _ in range(count):
        frame = bytearray(draw(st.sampled_from(TEMPLATES)))
        for _ in range(draw(st.integers(0, 4))):
            at = draw(st.integers(0, min(len(frame), 80) - 1))
            frame[at] = draw(st.integers(0, 255))
        cut = draw(st.integers(0, len(frame)))
        out.append(bytes(frame[:cut] if draw(st.booleans()) else frame))
        wirelens.append(draw(st.sampled_from([0, len(frame), len(frame) + 100])))
    ts = [1.7e9 + draw(st.floats(0, 100, allow_nan=False)) for _ in out]
    return batch_of(out, ts, draw(st.sampled_from(LINKTYPES)), wirelens)


def assert_same_columns(batch: FrameBatch, udp_ports: np.ndarray | None = None) -> None:
    ports = {} if udp_ports is None else {"udp_ports": udp_ports}
    c, py = decode_batch(batch, **ports), decode_batch_numpy(batch, **ports)
    for field in dataclasses.fields(c):
        if field.name == "batch":
            continue
        a, b = getattr(c, field.name), getattr(py, field.name)
        assert a.dtype == b.dtype, field.name
        assert np.array_equal(a, b), (field.name, np.flatnonzero(a != b)[:5])
    if py.ip.any():
        gc, gp = group_batch(c), group_batch_numpy(py)
        for field in dataclasses.fields(gc):
            a, b = getattr(gc, field.name), getattr(gp, field.name)
            assert np.array_equal(np.asarray(a), np.asarray(b)), field.name


@needs_c
@settings(max_examples=300, deadline=None)
@given(mutated_batches(), st.booleans())
def test_decoder_and_grouping_twins_agree_on_mutated_frames(
    batch: FrameBatch, every_port: bool
) -> None:
    assert_same_columns(batch, ALL_PORTS if every_port else None)


@needs_c
def test_twins_agree_on_a_batch_of_empty_frames() -> None:
    """Found by Hypothesis: no bytes at all to read headers from."""
    for linktype in (1, 101, 147):
        assert_same_columns(batch_of([b"", b""], [1.7e9, 1.7e9 + 1], linktype, [0, 60]))


def capture_files() -> list[Path]:
    files = sorted((ROOT / "pcaps").glob("*.pcap*"))
    if REAL.is_dir():
        files += sorted(
            p for p in REAL.iterdir() if p.suffix in (".pcap", ".pcapng", ".cap", ".gz")
        )
    return files


@needs_c
def test_decoder_and_grouping_twins_agree_on_every_capture() -> None:
    checked = 0
    for path in capture_files():
        for batch in OfflineSource([str(path)], batch_size=512).batches():
            assert_same_columns(batch)
            checked += len(batch)
    assert checked > 0


def pcap_stream(
    records: list[tuple[int, int, bytes, int]], order: str, version: tuple[int, int], nano: bool
) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, *version, 0, 0, 65535, 1)]
    for sec, frac, data, wire in records:
        first, second = (len(data), wire) if version >= (2, 3) else (wire, len(data))
        out.append(struct.pack(order + "IIII", sec, frac, first, second) + data)
    return b"".join(out)


record = st.tuples(
    st.integers(0, 2**32 - 1), st.integers(0, 999_999), st.binary(max_size=300), st.integers(0, 400)
)


def read_every_way(
    path: str, monkeypatch: pytest.MonkeyPatch, batch_size: int, reader: ModuleType = pcapfile
) -> list[object]:
    """What ``reader`` gives with its C loop and then with its Python twin."""
    results = []
    for records_module in (reader._records, None):
        monkeypatch.setattr(reader, "_records", records_module)
        results.append(read_all(path, batch_size))
    return results


@needs_c
@settings(max_examples=80, deadline=None)
@given(
    st.lists(record, max_size=30),
    st.sampled_from(["<", ">"]),
    st.sampled_from([(2, 4), (2, 3), (2, 2)]),
    st.booleans(),
    st.integers(0, 400),
    st.sampled_from([b"", b"\xff" * 16, b"\x00\x00\x00"]),
    st.integers(1, 7),
)
def test_record_scan_twins_agree(
    tmp_path_factory: pytest.TempPathFactory,
    records: list[tuple[int, int, bytes, int]],
    order: str,
    version: tuple[int, int],
    nano: bool,
    cut: int,
    tail: bytes,
    batch_size: int,
) -> None:
    blob = pcap_stream(records, order, version, nano) + tail
    blob = blob[: len(blob) - cut] if cut < len(blob) - 24 else blob
    path = tmp_path_factory.mktemp("scan") / "s.pcap"
    path.write_bytes(blob)
    with pytest.MonkeyPatch.context() as mp:
        c, py = read_every_way(str(path), mp, batch_size)
    assert c == py


def ng_block(btype: int, body: bytes, order: str, pad: int = 0) -> bytes:
    """A pcapng block; ``pad`` bytes more than its body (not a multiple of 4 is damage)."""
    body += b"\0" * (-len(body) % 4 + pad)
    n = len(body) + 12
    return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", n)


@st.composite
def ng_idb(draw: st.DrawFn, order: str) -> bytes:
    """An Interface Description Block, with or without resolution and offset options."""
    opts = b""
    if draw(st.booleans()):
        resol = draw(st.sampled_from([0, 3, 6, 9, 19, 20, 0x80 | 10, 0x80 | 63, 0x80 | 64]))
        opts += struct.pack(order + "HHB3x", 9, 1, resol)
    if draw(st.booleans()):
        opts += struct.pack(order + "HHq", 14, 8, draw(st.sampled_from([0, 1_700_000_000, -7])))
    linktype, snaplen = (
        draw(st.sampled_from([1, 1, 101, 113])),
        draw(st.sampled_from([0, 30, 9000])),
    )
    head = struct.pack(order + "HHI", linktype, 0, snaplen)
    return ng_block(1, head + opts + (struct.pack(order + "HH", 0, 0) if opts else b""), order)


@st.composite
def ng_packet(draw: st.DrawFn, order: str, damaged: bool = False) -> bytes:
    """A block of a section after its first IDBs: mostly packets, then every other kind."""
    kind = draw(st.sampled_from(["epb"] * 10 + ["spb"] * 3 + ["idb", "pb", "other", "other"]))
    data = draw(st.sampled_from(TEMPLATES))[: draw(st.integers(0, 80))]
    wire = draw(st.sampled_from([len(data), len(data), len(data) + 30, 0, 20]))
    pad = draw(st.sampled_from([1, 2, 3])) if damaged else 0
    if kind == "idb":
        return draw(ng_idb(order))
    if kind == "epb":
        iface, ticks = draw(st.sampled_from([0, 0, 0, 1, 1, 2, 4])), draw(st.integers(0, 2**64 - 1))
        room = len(data) + -len(data) % 4  # the largest caplen the block holds
        caplen = len(data) if draw(st.integers(0, 5)) else room + draw(st.integers(0, 5))
        head = struct.pack(order + "5I", iface, ticks >> 32, ticks & 0xFFFFFFFF, caplen, wire)
        return ng_block(6, head + data, order, pad)
    if kind == "spb":
        return ng_block(3, struct.pack(order + "I", wire) + data, order, pad)
    if kind == "pb":
        iface, ticks = draw(st.integers(0, 2)), draw(st.integers(0, 2**64 - 1))
        lo, hi = ticks & 0xFFFFFFFF, ticks >> 32
        head = struct.pack(order + "HH4I", iface, 0, hi, lo, len(data), wire)
        return ng_block(2, head + data, order)
    btype = draw(st.sampled_from([4, 5, 0xBAD, 0x40000BAD, 0x0A, 0x544C534B]))  # NRB ISB ...
    if damaged:
        return struct.pack(order + "II", btype, draw(st.sampled_from([0, 8, 30]))) + bytes(40)
    return ng_block(btype, bytes(draw(st.integers(0, 24))), order)


@st.composite
def pcapng_streams(draw: st.DrawFn) -> bytes:
    """Sections of either byte order with interfaces, packets and other blocks interleaved,
    at most one of them damaged."""
    out = []
    for _ in range(draw(st.integers(1, 3))):
        order = draw(st.sampled_from(["<", ">"]))
        out.append(ng_block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order))
        out += [draw(ng_idb(order)) for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3])))]
        out += draw(st.lists(ng_packet(order), max_size=40))
    if draw(st.booleans()):
        at = draw(st.integers(1, len(out)))
        out.insert(at, draw(ng_packet(draw(st.sampled_from(["<", ">"])), damaged=True)))
    return b"".join(out)


@needs_c
@settings(max_examples=300, deadline=None)
@given(
    pcapng_streams(),
    st.integers(0, 60),
    st.sampled_from([b"", b"\xff" * 16, b"\x06\x00\x00\x00"]),
    st.sampled_from([1, 2, 3, 7, 4096]),
    st.sampled_from([None, 64, 200]),
    st.booleans(),
)
def test_pcapng_block_walk_twins_agree(
    tmp_path_factory: pytest.TempPathFactory,
    blob: bytes,
    cut: int,
    tail: bytes,
    batch_size: int,
    chunk: int | None,
    compress: bool,
) -> None:
    blob = blob[: max(28, len(blob) - cut)] + tail
    path = tmp_path_factory.mktemp("ng") / "s.pcapng"
    path.write_bytes(gzip.compress(blob) if compress else blob)
    with pytest.MonkeyPatch.context() as mp:
        if chunk is not None:  # windows this small make blocks straddle reads
            mp.setattr(read_window, "CHUNK_BYTES", chunk)
        c, py = read_every_way(str(path), mp, batch_size, pcapng)
    assert c == py


@needs_c
def test_pcapng_twins_agree_on_a_block_over_the_length_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a window larger than the limit holds such a block whole; both stop there."""
    section = ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1), "<")
    section += ng_block(1, struct.pack("<HHI", 1, 0, 0), "<")
    frame = TEMPLATES[0]
    epb = struct.pack("<5I", 0, 0, 1, len(frame), len(frame)) + frame
    blob = section + ng_block(6, epb, "<") + ng_block(6, epb, "<", pad=pcapng.MAX_BLOCK_LEN)
    (tmp_path / "big.pcapng").write_bytes(blob)
    monkeypatch.setattr(read_window, "CHUNK_BYTES", 2 * pcapng.MAX_BLOCK_LEN)
    c, py = read_every_way(str(tmp_path / "big.pcapng"), monkeypatch, 16, pcapng)
    assert c == py
    assert c[1] == 1 and "stopped reading" in c[3][0]  # type: ignore[index]


@needs_c
def test_pcapng_twins_agree_on_every_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    checked = 0
    for path in capture_files():
        c, py = read_every_way(str(path), monkeypatch, 512, pcapng)
        assert c == py, path.name
        checked += len(c[0])  # type: ignore[arg-type]
    assert checked > 0


def test_speedups_are_built_in_ci() -> None:
    """CI must test the C path (the twins are tested here either way)."""
    if not BUILT:
        unmet(f"the C speedups are not built here: {speedups.missing()}")
    assert speedups.missing() == []
    assert frames_mod._headers is not None and grouping._groups is not None
    assert key_index._index is not None
