"""Hosts outside the inventory are tracked up to a limit; the rest count as ``other``.

A spoofed flood from 65,536 addresses must not make 65,536 devices, label values or
report rows: past ``limits.devices`` the hosts share the device ``other``, their number
is ``cctv_devices_overflow_total``, and inventory devices always keep their own label.
"""

from __future__ import annotations

import ipaddress
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bench.make_flood import flood
from monitor.classify.catalog import load_catalog
from monitor.classify.devices import OTHER_LABEL, DeviceBook
from monitor.config import DeviceEntry, Limits, Policy, load_policy
from monitor.model import ConfigError
from monitor.pipeline import Pipeline
from monitor.snapshot_samples import iter_samples
from tests.framebuild import batch_of

NET = ipaddress.ip_network("10.20.0.0/16")
CAMERA = DeviceEntry(ip="10.20.9.9", name="cam-9", vendor="hikvision", role="camera")


def policy(devices: int = 3) -> Policy:
    return Policy("s", (NET,), devices=(CAMERA,), limits=Limits(devices=devices))


def test_hosts_beyond_the_limit_are_other_and_counted() -> None:
    p = policy(devices=3)
    book = DeviceBook(p, load_catalog(), max_devices=p.limits.devices)
    for i in range(1, 9):
        book.get(f"10.20.1.{i}")
    assert [book.labels(f"10.20.1.{i}")[0] for i in range(1, 5)] == [
        "10.20.1.1", "10.20.1.2", "10.20.1.3", OTHER_LABEL,
    ]  # fmt: skip
    assert book.labels("10.20.9.9") == ("cam-9", "hikvision")  # the inventory is never other
    assert book.overflow.count() == 5
    assert set(book.devices) == {"10.20.1.1", "10.20.1.2", "10.20.1.3", "10.20.9.9", "other"}
    assert book.labels("198.51.100.7")[0] == "outside"
    # "other" stands for many hosts: it is no device in cctv_devices
    assert sum(book.role_counts().values()) == 4


def test_a_spoofed_flood_stays_within_the_device_limit() -> None:
    frames = flood(20_000, 0x0A140000 + np.arange(65536, dtype=np.uint64), np.random.default_rng(1))
    ts = 1.7e9 + np.arange(frames.shape[0]) * 1e-3
    pipe = Pipeline(policy(devices=100), load_catalog())
    for start in range(0, frames.shape[0], 4096):
        rows = frames[start : start + 4096]
        pipe.process(batch_of([r.tobytes() for r in rows], list(ts[start : start + 4096])))
    pipe.finish()
    snap = pipe.snapshot()
    devices = {
        labels[1][1] for spec, labels, _ in iter_samples(snap) if spec.name == "cctv_packets_total"
    }
    assert len(devices) <= 100 + 1 and OTHER_LABEL in devices
    assert len(pipe.devices.devices) == 100 + 2  # 100 hosts, "other", the inventory camera
    overflow = next(v for s, _, v in iter_samples(snap) if s.name == "cctv_devices_overflow_total")
    seen = len({bytes(r[26:30]) for r in frames})
    assert overflow == pytest.approx(seen - 100, rel=0.02)
    other = pipe.devices.devices[OTHER_LABEL]
    own = sum(d.packets for ip, d in pipe.devices.devices.items() if ip != OTHER_LABEL)
    assert other.packets + own == 20_000
    assert {f.device for f in pipe.findings.findings()} <= set(pipe.devices.devices)


def test_limits_come_from_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        textwrap.dedent("""\
        site: s
        closed_networks: [10.20.0.0/16]
        limits: {devices: 50, findings_per_device: 10}
        """)
    )
    assert load_policy(str(path)).limits == Limits(devices=50, findings_per_device=10)
    path.write_text("site: s\nclosed_networks: [10.20.0.0/16]\nlimits: {devices: 0}\n")
    with pytest.raises(ConfigError, match=r"site.yaml:3: limits.devices: '0' is not a whole"):
        load_policy(str(path))
    path.write_text("site: s\nclosed_networks: [10.20.0.0/16]\nlimits: {device: 5}\n")
    with pytest.raises(ConfigError, match=r"limits.device: unknown key \(did you mean 'devices'"):
        load_policy(str(path))


def test_a_full_flow_table_shows_its_evictions_in_the_report(tmp_path: Path) -> None:
    from monitor.flow.table import FlowSettings
    from monitor.pipeline import PipelineSettings
    from monitor.replay import run_replay
    from monitor.report.json_report import report_dict
    from monitor.report.markdown import render_markdown

    frames = flood(5_000, 0x0A140001 + np.arange(4, dtype=np.uint64), np.random.default_rng(2))
    path = tmp_path / "flood.pcap"
    from bench.make_flood import write_pcap

    write_pcap(path, frames, 1.7e9, 5)
    settings = PipelineSettings(flows=FlowSettings(max_flows=1_000), keep_records=False)
    result = run_replay([str(path)], policy(), load_catalog(), settings).result
    assert result.flow_evictions >= 4_000
    assert report_dict(result)["coverage"]["flow_evictions"] == result.flow_evictions
    assert "ended early because the flow table was full" in render_markdown(result)
