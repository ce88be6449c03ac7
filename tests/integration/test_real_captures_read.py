"""Every real capture in shared/pcaps-real reads as Wireshark's tools read it.

Packet counts, summed wire lengths and first/last timestamps are compared with
``capinfos`` and ``tshark``. Without those tools or the captures the tests skip, except
under CI, where they fail (``tests/requirements.py``).
"""

from __future__ import annotations

import functools
import gzip
import re
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from monitor.capture.offline import OfflineSource
from monitor.capture.writer import open_capture_writer
from monitor.model import FrameBatch
from tests.requirements import SHARED, require_shared, require_tool, shared_names

PCAPS = SHARED / "pcaps-real"
FILES = shared_names("pcaps-real", "*.pcap*")

pytestmark = [pytest.mark.realpcaps, pytest.mark.tools]


def real(name: str) -> Path:
    """The real capture ``name``; skip without it (fail under CI)."""
    return require_shared(PCAPS / name)


@dataclass(frozen=True)
class Reference:
    """What Wireshark's tools say about one capture."""

    capinfos_count: int
    count: int
    wire_bytes: int
    first: Decimal | None
    last: Decimal | None


@functools.cache
def reference(path: Path) -> Reference:
    """capinfos' packet count and tshark's per-frame lengths and times for ``path``."""
    capinfos, tshark = require_tool("capinfos"), require_tool("tshark")
    info = subprocess.run(
        [capinfos, "-c", "-M", str(path)], capture_output=True, text=True, check=False
    )
    text = info.stdout + info.stderr
    found = re.search(r"Number of packets:\s+(\d+)", text) or re.search(
        r"error occurred after reading (\d+) packets", text
    )
    assert found, text
    fields = ["-e", "frame.len", "-e", "frame.time_epoch"]
    cmd = [tshark, "-n", "-r", str(path), "--disable-protocol", "ALL", "-T", "fields"]
    out = subprocess.run(cmd + fields, capture_output=True, text=True, check=False).stdout
    rows = [line.split("\t") for line in out.splitlines() if line.strip()]
    times = [Decimal(t) for _, t in rows]
    return Reference(
        capinfos_count=int(found.group(1)),
        count=len(rows),
        wire_bytes=sum(int(length) for length, _ in rows),
        first=times[0] if times else None,
        last=times[-1] if times else None,
    )


def ours(*paths: Path) -> tuple[OfflineSource, list[FrameBatch]]:
    src = OfflineSource([str(p) for p in paths])
    return src, list(src.batches())


@pytest.mark.parametrize("name", FILES)
def test_counts_and_wire_bytes_match_wireshark(name: str) -> None:
    path = real(name)
    ref = reference(path)
    src, batches = ours(path)
    s = src.summaries[0]
    assert s.packets == sum(len(b) for b in batches)
    assert s.packets == ref.capinfos_count == ref.count
    assert s.bytes == ref.wire_bytes
    assert src.any_readable
    assert all(len(b.data) >= int((b.offset + b.caplen).max()) for b in batches)
    cut = "cut-short" in name or "bad-record-length" in name
    assert s.truncated == cut
    assert bool(s.errors) == cut
    assert all(e.startswith(name + ": ") for e in s.errors)


def carried(shown: Decimal) -> Decimal:
    """tshark's time with a fraction field of a billion nanoseconds or more (fuzzed) as a
    time: it prints the seconds, a dot and the nanoseconds as they are ("2.1882137472");
    the reader carries the whole seconds (3.882137472)."""
    whole, _, fraction = str(shown).partition(".")
    if len(fraction) <= 9:
        return shown
    return Decimal(whole) + Decimal(int(fraction)) / Decimal(10**9)


@pytest.mark.parametrize("name", FILES)
def test_first_and_last_timestamps_match_tshark(name: str) -> None:
    ref = reference(real(name))
    src, _ = ours(real(name))
    s = src.summaries[0]
    if ref.first is None or ref.last is None:  # no packets: no times either
        assert (s.packets, s.first_ts, s.last_ts) == (0, None, None)
        return
    assert s.first_ts is not None and s.last_ts is not None
    assert abs(Decimal(repr(s.first_ts)) - carried(ref.first)) < Decimal("1.5e-6")
    assert abs(Decimal(repr(s.last_ts)) - carried(ref.last)) < Decimal("1.5e-6")


def test_known_damage_is_named_with_its_byte_offset() -> None:
    bad = "suricataverify_smtp-to-comma_bad-record-length.pcap"
    src, _ = ours(real(bad))
    assert src.summaries[0].errors == [
        f"{bad}: record at byte offset 3695 claims 3925868813 bytes (snaplen 262144): "
        "stopped reading"
    ]
    cut = "suricataverify_http-mime-truncated_cut-short.pcap"
    src, _ = ours(real(cut))
    assert (
        src.summaries[0]
        .errors[0]
        .startswith(f"{cut}: cut short in the middle of a packet record at byte offset 2715459")
    )


def test_pcapng_that_libpcap_refuses() -> None:
    src, batches = ours(real("zeek_ldap_modify-request_126-idbs.pcapng"))
    assert src.summaries[0].packets == 17 and src.summaries[0].errors == []
    assert {b.linktype for b in batches} == {1}


@pytest.mark.parametrize(
    "name",
    [
        "ndpi_tls13_unidirectional_client.pcapng",
        "zeek_pcapng-multi-interface.pcapng",
        "zeek_http_get.pcap",
    ],
)
def test_nanosecond_pcap_and_gzip_copies(tmp_path: Path, name: str) -> None:
    """editcap's nanosecond pcap and a gzip copy read like the original, to the microsecond."""
    editcap = require_tool("editcap")
    source = real(name)
    nano = tmp_path / "nano.bin"
    subprocess.run([editcap, "-F", "nsecpcap", str(source), str(nano)], check=True)
    packed = tmp_path / "copy.bin"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    ref = reference(nano)
    assert ref.first is not None and ref.last is not None
    for path, fmt in ((nano, "pcap-ns"), (packed, None)):
        src, _ = ours(path)
        s = src.summaries[0]
        assert fmt is None or s.format == fmt
        assert (s.packets, s.bytes) == (ref.count, ref.wire_bytes)
        assert s.first_ts is not None and s.last_ts is not None
        assert abs(Decimal(repr(s.first_ts)) - ref.first) < Decimal("1.5e-6")
        assert abs(Decimal(repr(s.last_ts)) - ref.last) < Decimal("1.5e-6")


@pytest.mark.parametrize(
    ("names", "suffix"),
    [
        (["zeek_http_get.pcap", "ndpi_tplink_shp.pcap"], ".pcap"),
        (["ndpi_rtsp.pcap", "zeek_http_get.pcap", "tcpdump_LINKTYPE_RAW_ipv4.pcap"], ".pcapng"),
    ],
)
def test_written_captures_read_back_in_tshark(
    tmp_path: Path, names: list[str], suffix: str
) -> None:
    """Real frames written by our writers are what Wireshark's tools read back."""
    src, batches = ours(*(real(n) for n in names))
    out = tmp_path / f"out{suffix}"
    with open_capture_writer(out, {b.linktype for b in batches}) as writer:
        for batch in batches:
            writer.write_batch(batch)
    ref = reference(out)
    assert ref.count == sum(s.packets for s in src.summaries)
    assert ref.wire_bytes == sum(s.bytes for s in src.summaries)
    again, _ = ours(out)
    assert again.summaries[0].packets == ref.count and again.summaries[0].errors == []
