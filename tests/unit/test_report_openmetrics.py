"""OpenMetrics text from counter snapshots: catalog mapping, format, promtool backfill."""

from __future__ import annotations

import copy
import io
import subprocess
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from monitor import metrics as m
from monitor.counters import Counters, Snapshot
from monitor.report.openmetrics import escape, family_name, format_value, write_openmetrics
from monitor.snapshot_samples import iter_samples
from tests.requirements import require_tool

T0 = 1_714_564_800.0
SITE = "hamburg-hansaplatz"


def _full_counters() -> Counters:
    """Counters with one entry in every field."""
    c = Counters()
    c.packets[("cam-1", "hikvision", "vendor_cloud")] = 10
    c.bytes[("cam-1", "hikvision", "vendor_cloud", "out")] = 1000
    c.flows[("cam-1", "hikvision", "vendor_cloud")] = 1
    c.findings[("cam-1", "hikvision", "vendor_cloud")] = 1
    c.endpoint_contacts[("hikvision", "hik-connect")] = 2
    c.devices[("hikvision", "camera")] = 3
    c.device_last_seen["cam-1"] = T0 + 1.5
    c.capture_packets["eth1"] = 500
    c.capture_dropped[("eth1", "kernel")] = 4
    c.capture_up["eth1"] = 1
    c.decode_errors["tls"] = 6
    c.flow_table_entries = 7
    c.flow_table_evictions = 8
    c.last_packet_ts = T0 + 2.0
    return c


def _series(snapshots: list[Snapshot], site: str = SITE) -> str:
    out = io.StringIO()
    write_openmetrics(snapshots, site, out)
    return out.getvalue()


def _growing_snapshots() -> list[Snapshot]:
    """Three snapshots one minute apart; an egress series appears in the second."""
    c = Counters()
    snaps = []
    for i in range(3):
        c.packets[("cam-1", "hikvision", "internal")] += 100
        c.capture_packets["eth1"] += 100
        if i >= 1:
            c.packets[("cam-1", "hikvision", "egress")] += 1
        c.last_packet_ts = T0 + 60 * i
        snaps.append(Snapshot(site="", ts=T0 + 60 * i, counters=copy.deepcopy(c)))
    return snaps


def test_iter_samples_maps_every_counter_field() -> None:
    snap = Snapshot(site="other", ts=T0, counters=_full_counters())
    samples = list(iter_samples(snap, site=SITE))
    assert [spec for spec, _, _ in samples] == list(m.REPLAY_METRICS)
    by_name = {spec.name: (dict(labels), value) for spec, labels, value in samples}
    assert by_name["cctv_bytes_total"] == (
        {"site": SITE, "device": "cam-1", "vendor": "hikvision", "verdict": "vendor_cloud",
         "direction": "out"},
        1000.0,
    )  # fmt: skip
    assert by_name["cctv_device_last_seen_timestamp_seconds"] == (
        {"site": SITE, "device": "cam-1"},
        T0 + 1.5,
    )
    assert by_name["cctv_capture_dropped_packets_total"][0]["where"] == "kernel"
    assert by_name["cctv_flow_table_evictions_total"] == ({"site": SITE}, 8.0)
    assert by_name["cctv_decode_errors_total"] == ({"site": SITE, "layer": "tls"}, 6.0)
    for spec, labels, _ in samples:
        assert tuple(name for name, _ in labels) == spec.labels


def test_iter_samples_uses_snapshot_site_and_rejects_bad_keys() -> None:
    c = Counters()
    snap = Snapshot(site="s1", ts=T0, counters=c)
    assert {dict(labels)["site"] for _, labels, _ in iter_samples(snap)} == {"s1"}
    assert m.LAST_PACKET not in [spec for spec, _, _ in iter_samples(snap)]  # no packet yet
    c.packets[("cam-1", "internal")] = 1
    with pytest.raises(ValueError, match="cctv_packets_total"):
        list(iter_samples(snap))


def test_families_in_catalog_order_with_counter_naming() -> None:
    text = _series([Snapshot(site="", ts=T0, counters=_full_counters())])
    types = [line.split()[2:] for line in text.splitlines() if line.startswith("# TYPE")]
    assert types == [[family_name(s), s.kind] for s in m.REPLAY_METRICS]
    assert "# TYPE cctv_packets counter" in text
    assert "# TYPE cctv_devices gauge" in text
    assert 'cctv_packets_total{site="hamburg-hansaplatz",device="cam-1",' in text
    assert text.endswith("\n# EOF\n")


def test_counter_series_start_from_zero_with_increasing_times() -> None:
    """A counter series is 0 before it appears (no events yet), so rate() sees its first
    increase: a 0 sample at the previous snapshot, or 1 ms before the first one."""
    snaps = _growing_snapshots()
    snaps.insert(0, snaps.pop())  # out of order in, in order out
    snaps.append(Snapshot(site="", ts=None, counters=Counters()))  # skipped
    text = _series(snaps)
    internal = [ln for ln in text.splitlines() if 'verdict="internal"' in ln]
    egress = [ln for ln in text.splitlines() if 'verdict="egress"' in ln]
    assert [ln.split()[-2:] for ln in internal] == [
        ["0", "1714564799.999"],
        ["100", "1714564800.000"],
        ["200", "1714564860.000"],
        ["300", "1714564920.000"],
    ]
    assert egress[0].split()[-2] == "0"
    assert [ln.split()[-1] for ln in egress] == [
        "1714564800.000",
        "1714564860.000",
        "1714564920.000",
    ]


def test_snapshots_in_the_same_millisecond_keep_the_last() -> None:
    snaps = _growing_snapshots()
    snaps[1] = Snapshot(site="", ts=T0 + 0.0001, counters=snaps[1].counters)
    lines = [ln for ln in _series(snaps).splitlines() if 'verdict="internal"' in ln]
    assert [ln.split()[-2:] for ln in lines][:2] == [
        ["0", "1714564799.999"],
        ["200", "1714564800.000"],
    ]
    assert len(lines) == 3


def test_parses_as_openmetrics_with_escaped_labels() -> None:
    c = _full_counters()
    c.devices[('odd"vendor\\', "line\nbreak")] = 1
    snaps = [Snapshot(site="", ts=T0, counters=c), Snapshot(site="", ts=T0 + 30, counters=c)]
    families = {f.name: f for f in text_string_to_metric_families(_series(snaps))}
    assert list(families) == [family_name(s) for s in m.REPLAY_METRICS]
    assert families["cctv_packets"].type == "counter"
    assert families["cctv_packets"].samples[0].name == "cctv_packets_total"
    odd = [s for s in families["cctv_devices"].samples if s.labels["role"] == "line\nbreak"]
    assert [s.labels["vendor"] for s in odd] == ['odd"vendor\\'] * 2
    assert [float(s.timestamp) for s in odd] == [T0, T0 + 30]
    assert all(s.labels["site"] == SITE for f in families.values() for s in f.samples)


def test_value_and_escape_formatting() -> None:
    assert format_value(3.0) == "3" and format_value(1.5) == "1.5"
    assert format_value(float("nan")) == "NaN" and format_value(float("-inf")) == "-Inf"
    assert escape('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


@pytest.mark.tools
def test_promtool_creates_blocks(tmp_path: Path) -> None:
    promtool = require_tool("promtool")  # checks that the output backfills
    source = tmp_path / "metrics.om"
    with source.open("w", encoding="utf-8") as fp:
        write_openmetrics(_growing_snapshots(), SITE, fp)
    run = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(tmp_path / "db")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "BLOCK ULID" in run.stdout
    blocks = [p for p in (tmp_path / "db").iterdir() if (p / "meta.json").exists()]
    assert blocks, run.stdout
