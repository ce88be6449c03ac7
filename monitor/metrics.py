"""The metric catalog: every exported name, type, help text and label set, in one place.

Both the live exporter (prometheus_client) and ``replay --metrics-out`` (OpenMetrics
text) render from this table, so a name can only change here (CONTRACT.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """Name (with its ``_total`` suffix for counters), type, help and label names."""

    name: str
    kind: str  # "counter" | "gauge"
    help: str
    labels: tuple[str, ...]


PACKETS = MetricSpec(
    "cctv_packets_total",
    "counter",
    "Packets seen, by device, vendor and flow verdict.",
    ("site", "device", "vendor", "verdict"),
)
BYTES = MetricSpec(
    "cctv_bytes_total",
    "counter",
    "On-the-wire bytes, by device, vendor, flow verdict and direction (out = sent by the device).",
    ("site", "device", "vendor", "verdict", "direction"),
)
FLOWS = MetricSpec(
    "cctv_flows_total",
    "counter",
    "Flows started, by device, vendor and verdict.",
    ("site", "device", "vendor", "verdict"),
)
FINDINGS = MetricSpec(
    "cctv_findings_total",
    "counter",
    "Findings raised, by device, vendor and kind.",
    ("site", "device", "vendor", "kind"),
)
ENDPOINT_CONTACTS = MetricSpec(
    "cctv_vendor_endpoint_contacts_total",
    "counter",
    "Flows or lookups attributed to a catalogued vendor endpoint.",
    ("site", "vendor", "endpoint"),
)
DEVICES = MetricSpec(
    "cctv_devices",
    "gauge",
    "Devices known (inventory and seen), by vendor and role.",
    ("site", "vendor", "role"),
)
DEVICE_LAST_SEEN = MetricSpec(
    "cctv_device_last_seen_timestamp_seconds",
    "gauge",
    "Capture time of the last packet sent by the device.",
    ("site", "device"),
)
CAPTURE_PACKETS = MetricSpec(
    "cctv_capture_packets_total",
    "counter",
    "Packets received from the capture source.",
    ("site", "interface"),
)
CAPTURE_DROPPED = MetricSpec(
    "cctv_capture_dropped_packets_total",
    "counter",
    "Packets the capture lost, where = kernel (buffer full) or interface (NIC/driver).",
    ("site", "interface", "where"),
)
CAPTURE_UP = MetricSpec(
    "cctv_capture_up",
    "gauge",
    "1 when the capture source is open and delivering packets.",
    ("site", "interface"),
)
FLOW_TABLE_ENTRIES = MetricSpec(
    "cctv_flow_table_entries",
    "gauge",
    "Flows currently held in the flow table.",
    ("site",),
)
FLOW_TABLE_EVICTIONS = MetricSpec(
    "cctv_flow_table_evictions_total",
    "counter",
    "Flows evicted early because the flow table was full.",
    ("site",),
)
LAST_PACKET = MetricSpec(
    "cctv_last_packet_timestamp_seconds",
    "gauge",
    "Capture time of the newest packet seen.",
    ("site",),
)
DECODE_ERRORS = MetricSpec(
    "cctv_decode_errors_total",
    "counter",
    "Frames or payloads that could not be decoded, by layer.",
    ("site", "layer"),
)

DEVICES_OVERFLOW = MetricSpec(
    "cctv_devices_overflow_total",
    "counter",
    'Closed-network hosts beyond the device limit, counted together as device="other".',
    ("site",),
)

CONTRACT_METRICS: tuple[MetricSpec, ...] = (
    PACKETS,
    BYTES,
    FLOWS,
    FINDINGS,
    ENDPOINT_CONTACTS,
    DEVICES,
    DEVICE_LAST_SEEN,
    CAPTURE_PACKETS,
    CAPTURE_DROPPED,
    CAPTURE_UP,
    FLOW_TABLE_ENTRIES,
    FLOW_TABLE_EVICTIONS,
    LAST_PACKET,
)

# Exported by the live sensor only (``replay`` has no process or config reload to report).
BUILD_INFO = MetricSpec(
    "cctv_build_info",
    "gauge",
    "Always 1; the version label carries the running cctv-monitor version.",
    ("site", "version"),
)
CONFIG_RELOAD_OK = MetricSpec(
    "cctv_config_last_reload_successful",
    "gauge",
    "1 when the last load of the site policy succeeded, 0 when it failed.",
    ("site",),
)
CONFIG_RELOAD_TIME = MetricSpec(
    "cctv_config_last_reload_success_timestamp_seconds",
    "gauge",
    "Wall-clock time of the last successful load of the site policy.",
    ("site",),
)

ALERTS_SUPPRESSED = MetricSpec(
    "cctv_alerts_suppressed_total",
    "counter",
    "Findings that got no alert-log line of their own when raised, by reason: throttle (a "
    "repeat inside --throttle), fold (beyond the keys kept per device and kind: in a summary "
    "line), rate (over --alerts-rate: in a held_back line).",
    ("site", "reason"),
)
SINK_WRITE_ERRORS = MetricSpec(
    "cctv_sink_write_errors_total",
    "counter",
    "Writes to an output file that failed (disk full, quota, I/O error; retries count too), by "
    "sink: alerts (the --alerts log) or evidence (the --evidence-dir pcaps). The files keep "
    "whole lines and records only.",
    ("site", "sink"),
)
ALERTS_LOST = MetricSpec(
    "cctv_alerts_lost_total",
    "counter",
    "Findings whose alert-log line could not be written: writes failed and the line found no "
    "room among the lines waiting for space (10,000), or was still waiting at the stop.",
    ("site",),
)
SNAPSHOT_TIME = MetricSpec(
    "cctv_snapshot_timestamp_seconds",
    "gauge",
    "Wall-clock time the capture loop took the counters this scrape shows (with --workers, "
    "the oldest worker's); time() minus it is their age.",
    ("site",),
)
CAPTURE_WORKERS = MetricSpec(
    "cctv_capture_workers",
    "gauge",
    "Capture processes: state=expected (--workers) and state=running (those reading their share "
    "of the interface now). cctv_capture_up is 1 only while all of them run.",
    ("site", "state"),
)
WORKER_RESTARTS = MetricSpec(
    "cctv_capture_worker_restarts_total",
    "counter",
    "Capture workers that died and were started again. A restart loses what the worker had "
    "read but not yet reported and its open flows.",
    ("site",),
)

SENSOR_METRICS: tuple[MetricSpec, ...] = (
    BUILD_INFO,
    CONFIG_RELOAD_OK,
    CONFIG_RELOAD_TIME,
    ALERTS_SUPPRESSED,
    SINK_WRITE_ERRORS,
    ALERTS_LOST,
    SNAPSHOT_TIME,
    CAPTURE_WORKERS,
    WORKER_RESTARTS,
)
# What a replay can know (written by --metrics-out); the live sensor adds SENSOR_METRICS.
REPLAY_METRICS: tuple[MetricSpec, ...] = (*CONTRACT_METRICS, DECODE_ERRORS, DEVICES_OVERFLOW)
ALL_METRICS: tuple[MetricSpec, ...] = (*REPLAY_METRICS, *SENSOR_METRICS)
