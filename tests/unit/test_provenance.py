"""Hashing while reading, duplicate inputs, and the provenance a report carries."""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import __version__
from monitor.capture.hashing import HashingFile, find_duplicates, sha256_file
from monitor.capture.offline import OfflineSource
from monitor.capture.window import ReusingChunkedReader
from monitor.provenance import add_evidence, build_provenance
from tests.unit.test_capture_offline import frames, pcap_file, reader_path, write

__all__ = ["reader_path"]  # the fixture, used by name


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("threaded", [True, False])
def test_hashing_file_hashes_what_was_read_and_then_the_rest(threaded: bool) -> None:
    data = bytes(range(256)) * 40_000  # 10 MB: several chunks
    hashed = HashingFile(io.BytesIO(data), threaded=threaded)
    got = bytearray()
    buf = bytearray(1 << 20)
    for _ in range(3):  # the same buffer filled again and again, as the reader does
        n = hashed.readinto(memoryview(buf))
        got += buf[:n]
    got += hashed.read(12345)
    assert bytes(got) == data[: len(got)]
    assert hashed.hexdigest() == sha(data)  # the unread rest is hashed too


def test_reused_read_buffers_are_hashed_before_they_are_refilled(tmp_path: Path) -> None:
    data = bytes(i % 251 for i in range(3_000_000))
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    with open(path, "rb") as raw:
        hashed = HashingFile(raw)
        window = ReusingChunkedReader(hashed, 0, chunk=65536)  # type: ignore[arg-type]
        seen = bytearray()
        while window.fill(1):
            seen += window.buf[window.pos :]
            window.pos = len(window.buf)
        assert hashed.hexdigest() == sha(data)
    assert bytes(seen) == data


@pytest.mark.parametrize("kind", ["pcap", "pcap.gz", "cut", "damaged", "junk", "empty"])
def test_inputs_are_hashed_whole_whatever_was_read(
    tmp_path: Path, reader_path: str, kind: str
) -> None:
    recs = frames(3000)
    good = pcap_file(recs)
    bad = 24 + sum(16 + len(r[2]) for r in recs[:10]) + 8  # caplen of the 11th record
    data = {
        "pcap": good,
        "pcap.gz": gzip.compress(good),
        "cut": good[: len(good) // 2],
        "damaged": good[:bad] + b"\xff\xff\xff\x7f" + good[bad + 4 :],  # unbelievable length
        "junk": b"not a capture at all\n" * 100,
        "empty": b"",
    }[kind]
    path = write(tmp_path, f"x.{kind}", data)
    src = OfflineSource([path], hash_inputs=True)
    packets = sum(len(b) for b in src.batches())
    s = src.summaries[0]
    assert s.sha256 == sha(data) == sha256_file(path)
    assert s.size == len(data)
    if kind in ("cut", "damaged"):
        assert 0 < packets < 3000 and s.damage_offset is not None and not s.complete
        assert s.read_bytes == s.damage_offset < len(data)
    if kind == "pcap":
        assert packets == 3000 and s.complete and s.read_bytes == len(data)
        assert s.damage_offset is None


def test_without_hash_inputs_nothing_is_hashed(tmp_path: Path) -> None:
    src = OfflineSource([write(tmp_path, "a.pcap", pcap_file(frames(10)))])
    list(src.batches())
    assert src.summaries[0].sha256 is None and src.summaries[0].size is not None


def test_duplicates_by_content_by_name_and_not_by_size(tmp_path: Path) -> None:
    a = write(tmp_path, "a.pcap", pcap_file(frames(50)))
    b = str(tmp_path / "b.pcap")
    shutil.copy(a, b)  # same content, other name
    other = bytearray(Path(a).read_bytes())
    other[-1] ^= 0xFF  # same size, other content
    c = write(tmp_path, "c.pcap", bytes(other))
    repeats, digests = find_duplicates([a, c, b, a, str(tmp_path / "missing.pcap")])
    assert repeats == {2: 0, 3: 0}
    assert digests[0] == digests[2] == sha256_file(a) != digests[1]


def test_a_duplicate_input_is_read_once_and_named(tmp_path: Path) -> None:
    a = write(tmp_path, "a.pcap", pcap_file(frames(50)))
    b = str(tmp_path / "copy.pcap")
    shutil.copy(a, b)
    src = OfflineSource([a, b, a], hash_inputs=True)
    assert sum(len(x) for x in src.batches()) == 50
    first, copy, again = src.summaries
    assert first.packets == 50 and first.duplicate_of is None
    for dup in (copy, again):
        assert dup.packets == 0 and dup.duplicate_of == a and dup.complete
        assert dup.sha256 == first.sha256 == sha256_file(a)
        assert dup.errors == []  # a repeat is not damage
    assert copy.size == first.size


def test_provenance_of_a_policy_file_and_the_built_in_default(tmp_path: Path) -> None:
    policy = tmp_path / "site.yaml"
    policy.write_text("site: x\nclosed_networks: [10.0.0.0/8]\n")
    when = datetime(2026, 12, 4, 21, 30, 5, 123456, tzinfo=UTC)
    prov = build_provenance(str(policy), "2026-11-21", ["replay", "a.pcap"], now=when)
    assert prov.tool_version == __version__ and prov.catalog_version == "2026-11-21"
    assert prov.policy_path == str(policy) and prov.policy_sha256 == sha256_file(policy)
    assert prov.generated == "2026-12-04T21:30:05Z"
    assert prov.command_line == ["cctv-monitor", "replay", "a.pcap"]
    assert prov.evidence_path is None
    default = build_provenance(None, "v", [])
    assert default.policy_path is None and default.policy_sha256 is None
    assert default.generated.endswith("Z") and len(default.generated) == 20


def test_evidence_is_noted_with_its_hash(tmp_path: Path) -> None:
    evidence = tmp_path / "e.pcap"
    evidence.write_bytes(pcap_file(frames(3)))
    prov = build_provenance(None, "v", [])
    add_evidence(prov, evidence, 3)
    assert (prov.evidence_path, prov.evidence_packets) == (str(evidence), 3)
    assert prov.evidence_sha256 == sha256_file(evidence)
    add_evidence(prov, tmp_path / "gone.pcap", 0)
    assert prov.evidence_sha256 is None
