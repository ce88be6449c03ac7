"""The Prometheus collector renders a hand-built Snapshot on its own registry."""

from __future__ import annotations

from prometheus_client import generate_latest

from monitor.counters import Counters, Snapshot
from monitor.exporter.collector import SensorInfo, build_registry
from monitor.metrics import ALL_METRICS

SITE = "hamburg-hansaplatz"


def _snapshot() -> Snapshot:
    c = Counters()
    c.packets[("cam-01", "hikvision", "egress")] = 13
    c.bytes[("cam-01", "hikvision", "egress", "out")] = 1000
    c.bytes[("cam-01", "hikvision", "egress", "in")] = 4196
    c.flows[("cam-01", "hikvision", "egress")] = 1
    c.findings[("cam-01", "hikvision", "egress")] = 1
    c.endpoint_contacts[("hikvision", "hik-connect")] = 2
    c.devices[("hikvision", "camera")] = 3
    c.device_last_seen["cam-01"] = 1772438403.5
    c.capture_packets["eth1"] = 99
    c.capture_dropped[("eth1", "kernel")] = 4
    c.capture_dropped[("eth1", "interface")] = 0
    c.capture_up["eth1"] = 1
    c.flow_table_entries = 7
    c.flow_table_evictions = 2
    c.last_packet_ts = 1772438418.8
    return Snapshot(site="ignored", ts=1772438418.8, counters=c)


def _registry(snap: Snapshot | None, ok: bool = True):  # type: ignore[no-untyped-def]
    info = SensorInfo(SITE, "9.9.9", ok, 1772000000.0 if ok else None)
    return build_registry(lambda: snap, lambda: info, process_metrics=False)


def test_every_sample_with_site_label() -> None:
    reg = _registry(_snapshot())
    v = reg.get_sample_value
    labels = {"site": SITE, "device": "cam-01", "vendor": "hikvision", "verdict": "egress"}
    assert v("cctv_packets_total", labels) == 13
    assert v("cctv_flows_total", labels) == 1
    assert v("cctv_bytes_total", {**labels, "direction": "in"}) == 4196
    kind = {"site": SITE, "device": "cam-01", "vendor": "hikvision", "kind": "egress"}
    assert v("cctv_findings_total", kind) == 1
    ep = {"site": SITE, "vendor": "hikvision", "endpoint": "hik-connect"}
    assert v("cctv_vendor_endpoint_contacts_total", ep) == 2
    assert v("cctv_devices", {"site": SITE, "vendor": "hikvision", "role": "camera"}) == 3
    seen = {"site": SITE, "device": "cam-01"}
    assert v("cctv_device_last_seen_timestamp_seconds", seen) == 1772438403.5
    iface = {"site": SITE, "interface": "eth1"}
    assert v("cctv_capture_packets_total", iface) == 99
    assert v("cctv_capture_dropped_packets_total", {**iface, "where": "kernel"}) == 4
    assert v("cctv_capture_up", iface) == 1
    assert v("cctv_flow_table_entries", {"site": SITE}) == 7
    assert v("cctv_flow_table_evictions_total", {"site": SITE}) == 2
    assert v("cctv_last_packet_timestamp_seconds", {"site": SITE}) == 1772438418.8


def test_sensor_metrics() -> None:
    reg = _registry(_snapshot())
    assert reg.get_sample_value("cctv_build_info", {"site": SITE, "version": "9.9.9"}) == 1
    assert reg.get_sample_value("cctv_config_last_reload_successful", {"site": SITE}) == 1
    when = reg.get_sample_value("cctv_config_last_reload_success_timestamp_seconds", {"site": SITE})
    assert when == 1772000000.0
    failed = _registry(_snapshot(), ok=False)
    assert failed.get_sample_value("cctv_config_last_reload_successful", {"site": SITE}) == 0


def test_alerts_held_back_and_snapshot_time() -> None:
    suppressed = {"throttle": 3, "fold": 120, "rate": 7}
    info = SensorInfo(SITE, "1", True, None, suppressed, 1772438419.25)
    reg = build_registry(lambda: _snapshot(), lambda: info, process_metrics=False)
    for reason, n in suppressed.items():
        labels = {"site": SITE, "reason": reason}
        assert reg.get_sample_value("cctv_alerts_suppressed_total", labels) == n
    assert reg.get_sample_value("cctv_snapshot_timestamp_seconds", {"site": SITE}) == 1772438419.25


def test_before_the_first_snapshot_and_no_created_series() -> None:
    text = generate_latest(_registry(None)).decode()
    for spec in ALL_METRICS:
        assert f"# TYPE {spec.name} {spec.kind}" in text, spec.name
    assert "_created" not in generate_latest(_registry(_snapshot())).decode()


def test_process_metrics_on_the_same_registry() -> None:
    reg = build_registry(lambda: None, lambda: SensorInfo(SITE, "1", True, None))
    assert reg.get_sample_value("process_resident_memory_bytes") is not None
