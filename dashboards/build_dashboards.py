"""Generate the Grafana dashboards in ``dashboards/grafana/`` from plain dicts.

Run ``python dashboards/build_dashboards.py`` after editing this file and commit both the
generator and the JSON; ``--check`` exits 1 when the committed JSON is out of date. Metric
names must exist in ``monitor/metrics.py`` (``tests/dashboards`` checks it), every panel uses
the ``${datasource}`` variable, filters on ``site=~"$site"`` and uses ``[$__rate_interval]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "grafana"
DS = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39
RUNBOOKS = "https://github.com/cctv-monitor/cctv-monitor/blob/main/docs/runbooks.md"
OUTSIDE = 'verdict=~"egress|vendor_cloud", direction="out"'

Panel = dict[str, Any]


# --------------------------------------------------------------------------- building blocks


def target(expr: str, legend: str = "", *, table: bool = False) -> Panel:
    """The one Prometheus query of a panel; ``table`` makes it an instant query in table format."""
    return {
        "datasource": DS,
        "editorMode": "code",
        "expr": expr,
        "format": "table" if table else "time_series",
        "instant": table,
        "legendFormat": legend or "__auto",
        "range": not table,
        "refId": "A",
    }


def _base(pid: int, kind: str, title: str, description: str, grid: tuple[int, ...]) -> Panel:
    x, y, w, h = grid
    return {
        "datasource": DS,
        "description": description,
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "id": pid,
        "title": title,
        "type": kind,
    }


def _thresholds(red_from: float | None) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if red_from is not None:
        steps.append({"color": "red", "value": red_from})
    return {"mode": "absolute", "steps": steps}


def timeseries(
    pid: int,
    title: str,
    description: str,
    unit: str,
    grid: tuple[int, ...],
    expr: str,
    legend: str = "",
    *,
    bars: bool = False,
) -> Panel:
    """A time series panel; ``bars`` for counts per interval (findings, contacts)."""
    panel = _base(pid, "timeseries", title, description, grid)
    panel["fieldConfig"] = {
        "defaults": {
            "color": {"mode": "palette-classic"},
            "custom": {
                "drawStyle": "bars" if bars else "line",
                "fillOpacity": 80 if bars else 10,
                "lineWidth": 1,
                "showPoints": "never",
                "spanNulls": False,
                "stacking": {"group": "A", "mode": "none"},
            },
            "min": 0,
            "unit": unit,
        },
        "overrides": [],
    }
    panel["options"] = {
        # Counts per interval: the legend's Total is the count over the dashboard's range.
        "legend": {
            "calcs": ["sum"] if bars else ["max", "lastNotNull"],
            "displayMode": "table",
            "placement": "bottom",
        },
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    panel["targets"] = [target(expr, legend)]
    return panel


def stat(
    pid: int,
    title: str,
    description: str,
    unit: str,
    grid: tuple[int, ...],
    expr: str,
    legend: str = "",
    *,
    red_from: float | None = None,
    mappings: list[dict[str, Any]] | None = None,
    no_value: str = "No data",
) -> Panel:
    """A stat panel showing the last value of each series, red from ``red_from``."""
    panel = _base(pid, "stat", title, description, grid)
    panel["fieldConfig"] = {
        "defaults": {
            "color": {"mode": "thresholds"},
            "mappings": mappings or [],
            "noValue": no_value,
            "thresholds": _thresholds(red_from),
            "unit": unit,
        },
        "overrides": [],
    }
    panel["options"] = {
        "colorMode": "background",
        "graphMode": "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "textMode": "auto",
    }
    panel["targets"] = [target(expr, legend)]
    return panel


def table(
    pid: int,
    title: str,
    description: str,
    unit: str,
    grid: tuple[int, ...],
    expr: str,
    legend: str = "",
    *,
    links: list[dict[str, Any]] | None = None,
) -> Panel:
    """A table of instant-query results, one row per series, the Time column hidden."""
    panel = _base(pid, "table", title, description, grid)
    panel["fieldConfig"] = {
        "defaults": {"links": links or [], "unit": unit},
        "overrides": [],
    }
    panel["options"] = {
        "cellHeight": "sm",
        "showHeader": True,
        "sortBy": [{"desc": True, "displayName": "Value"}],
    }
    panel["targets"] = [target(expr, legend, table=True)]
    panel["transformations"] = [{"id": "organize", "options": {"excludeByName": {"Time": True}}}]
    return panel


def bargauge(
    pid: int,
    title: str,
    description: str,
    unit: str,
    grid: tuple[int, ...],
    expr: str,
    legend: str = "",
    *,
    links: list[dict[str, Any]] | None = None,
) -> Panel:
    """Horizontal bars, one per series (used for top-k lists)."""
    panel = _base(pid, "bargauge", title, description, grid)
    panel["fieldConfig"] = {
        "defaults": {
            "color": {"mode": "continuous-GrYlRd"},
            "links": links or [],
            "min": 0,
            "thresholds": _thresholds(None),
            "unit": unit,
        },
        "overrides": [],
    }
    panel["options"] = {
        "displayMode": "gradient",
        "orientation": "horizontal",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "showUnfilled": True,
    }
    panel["targets"] = [target(expr, legend)]
    return panel


def text(pid: int, title: str, content: str, grid: tuple[int, ...]) -> Panel:
    """A Markdown text panel."""
    panel = _base(pid, "text", title, "What this dashboard is for and how to read it.", grid)
    panel["options"] = {"content": content, "mode": "markdown"}
    return panel


def counted_per_interval(metric: str, selector: str, by: str) -> str:
    """Events per ``$__interval`` of a counter, as whole numbers that add up over the range.

    Grafana runs a range query with step = ``$__interval``, so each point is the counter now
    minus its last value one step earlier: the windows tile the range without overlap, the
    points telescope to the counter's growth over the range, and nothing is extrapolated
    (``increase()`` would stretch each window to its edges and show 1.33 contacts). The
    earlier value is the last sample within ``$__rate_interval`` before the window, which
    bridges a failed scrape (its staleness marker is not a value). A series born inside the
    window (a counter appears with its first event) and a counter that went down (sensor
    restart) count with their whole current value. See docs/metrics.md, "Counts in Grafana".
    """
    series = f"{metric}{{{selector}}}"
    before = f"last_over_time({series}[$__rate_interval] offset $__interval)"
    lines = [
        f"sum by ({by}) (",
        "    (",
        f"        {series}",
        "      -",
        f"        {before}",
        "    ) >= 0",
        "  or",
        f"    {series}",
        ")",
    ]
    return "\n".join(lines)


UP_MAPPINGS = [
    {
        "options": {
            "0": {"color": "red", "index": 0, "text": "DOWN"},
            "1": {"color": "green", "index": 1, "text": "UP"},
        },
        "type": "value",
    }
]
RELOAD_MAPPINGS = [
    {
        "options": {
            "0": {"color": "red", "index": 0, "text": "FAILED"},
            "1": {"color": "green", "index": 1, "text": "OK"},
        },
        "type": "value",
    }
]
DEVICE_LINK_TABLE = [
    {
        "title": "Open this device",
        "url": "/d/cctv-device/cctv-device?${datasource:queryparam}"
        "&var-site=${__data.fields.site}&var-device=${__data.fields.device}&${__url_time_range}",
    }
]
DEVICE_LINK_SERIES = [
    {
        "title": "Open this device",
        "url": "/d/cctv-device/cctv-device?${datasource:queryparam}"
        "&var-site=${__field.labels.site}&var-device=${__field.labels.device}"
        "&${__url_time_range}",
    }
]


# --------------------------------------------------------------------------- dashboard shell


def datasource_variable() -> Panel:
    return {
        "current": {},
        "hide": 0,
        "includeAll": False,
        "label": "Data source",
        "multi": False,
        "name": "datasource",
        "options": [],
        "query": "prometheus",
        "refresh": 1,
        "regex": "",
        "type": "datasource",
    }


def query_variable(name: str, label: str, query: str, *, multi: bool) -> Panel:
    return {
        "current": {},
        "datasource": DS,
        "definition": query,
        "hide": 0,
        "includeAll": multi,
        "label": label,
        "multi": multi,
        "name": name,
        "options": [],
        "query": query,
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "type": "query",
    } | ({"allValue": ".*"} if multi else {})


def link(title: str, uid: str, tooltip: str) -> Panel:
    return {
        "asDropdown": False,
        "icon": "dashboard",
        "includeVars": True,
        "keepTime": True,
        "tags": [],
        "targetBlank": False,
        "title": title,
        "tooltip": tooltip,
        "type": "link",
        "url": f"/d/{uid}/{uid}",
    }


def dashboard(
    uid: str,
    title: str,
    description: str,
    variables: list[Panel],
    links: list[Panel],
    panels: list[Panel],
) -> Panel:
    return {
        "annotations": {"list": []},
        "description": description,
        "editable": False,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": links,
        "liveNow": False,
        "panels": panels,
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["cctv"],
        "templating": {"list": [datasource_variable(), *variables]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


SITE_VARIABLE_QUERY = "label_values(cctv_capture_packets_total, site)"


# --------------------------------------------------------------------------- overview

OVERVIEW_TEXT = f"""\
**Does the closed CCTV network talk to the outside?** Per selected site this dashboard shows
whether any device exchanged traffic with addresses outside the closed networks (findings,
egress and vendor-cloud bytes, vendor endpoints contacted), which devices and vendors did,
and whether the answer can be trusted: capture up, packets dropped, flow-table evictions,
age of the last packet, decode errors and the sensor's config state.

Any finding is worth a look: a counter above 0 means at least one flagged flow or event
since the sensor started. Follow a device to *CCTV device*; the flows themselves are in the
sensor's alerts log and evidence pcaps. What to do for each alert: [runbooks]({RUNBOOKS})."""


def overview_findings() -> list[Panel]:
    site = 'site=~"$site"'
    return [
        text(1, "What this dashboard answers", OVERVIEW_TEXT, (0, 0, 16, 6)),
        stat(
            2,
            "Findings since sensor start, by kind",
            "Value of cctv_findings_total summed per kind: flagged flows or events since each "
            "sensor started. Anything but 'none' needs a look (red from 1).",
            "short",
            (16, 0, 8, 6),
            f"sum by (kind) (cctv_findings_total{{{site}}})",
            "{{kind}}",
            red_from=1,
            no_value="none",
        ),
        timeseries(
            3,
            "New findings by kind",
            "Findings raised per interval, by site and kind: whole numbers, and the legend's "
            "Total is the count over the dashboard's range (the report's count for a replayed "
            "capture). See counted_per_interval in build_dashboards.py.",
            "short",
            (0, 6, 12, 8),
            counted_per_interval("cctv_findings_total", site, "site, kind"),
            "{{site}} {{kind}}",
            bars=True,
        ),
        table(
            4,
            "Findings by device since sensor start",
            "Current findings counters per site, device, vendor and kind. Click a row to open "
            "the device dashboard.",
            "short",
            (12, 6, 12, 8),
            f"sum by (site, device, vendor, kind) (cctv_findings_total{{{site}}}) > 0",
            links=DEVICE_LINK_TABLE,
        ),
    ]


def overview_egress() -> list[Panel]:
    out = f'site=~"$site", {OUTSIDE}'
    rate = f"rate(cctv_bytes_total{{{out}}}[$__rate_interval])"
    return [
        timeseries(
            5,
            "Bytes sent outside, by device",
            "Bytes per second sent by each device on egress and vendor_cloud flows (direction "
            "out). Zero on a closed network.",
            "Bps",
            (0, 14, 12, 8),
            f"sum by (site, device, verdict) ({rate})",
            "{{site}} {{device}} {{verdict}}",
        ),
        timeseries(
            6,
            "Bytes sent outside, by vendor",
            "Bytes per second sent on egress and vendor_cloud flows, summed per device vendor.",
            "Bps",
            (12, 14, 12, 8),
            f"sum by (site, vendor, verdict) ({rate})",
            "{{site}} {{vendor}} {{verdict}}",
        ),
        bargauge(
            7,
            "Top 10 devices by bytes sent outside (since sensor start)",
            "Bytes each device sent on egress and vendor_cloud flows since its sensor started "
            "(counter value, so short attempts are not lost between scrapes).",
            "bytes",
            (0, 22, 8, 8),
            f"topk(10, sum by (site, device, vendor) (cctv_bytes_total{{{out}}}) > 0)",
            "{{site}} {{device}} ({{vendor}})",
            links=DEVICE_LINK_SERIES,
        ),
        timeseries(
            8,
            "Vendor endpoint contacts",
            "Flows or DNS lookups attributed to a catalogued vendor endpoint, per interval; "
            "the legend's Total is the count over the dashboard's range. Run `cctv-monitor "
            "catalog` for what each endpoint is.",
            "short",
            (8, 22, 8, 8),
            counted_per_interval(
                "cctv_vendor_endpoint_contacts_total",
                'site=~"$site"',
                "site, vendor, endpoint",
            ),
            "{{site}} {{vendor}} {{endpoint}}",
            bars=True,
        ),
        table(
            9,
            "Devices by vendor and role",
            "Devices known to each sensor (inventory and seen), by vendor and role.",
            "short",
            (16, 22, 8, 8),
            'sum by (site, vendor, role) (cctv_devices{site=~"$site"})',
        ),
    ]


def overview_traffic() -> list[Panel]:
    site = 'site=~"$site"'
    return [
        timeseries(
            10,
            "Traffic by verdict",
            "Bytes per second by flow verdict and direction: internal, service, discovery, "
            "egress, vendor_cloud, inbound.",
            "Bps",
            (0, 30, 12, 8),
            f"sum by (verdict, direction) (rate(cctv_bytes_total{{{site}}}[$__rate_interval]))",
            "{{verdict}} {{direction}}",
        ),
        timeseries(
            11,
            "Flows started per second, by verdict",
            "New flows per second by verdict, all devices of the selected sites.",
            "short",
            (12, 30, 12, 8),
            f"sum by (verdict) (rate(cctv_flows_total{{{site}}}[$__rate_interval]))",
            "{{verdict}}",
        ),
    ]


def overview_capture_status() -> list[Panel]:
    site = 'site=~"$site"'
    return [
        stat(
            12,
            "Capture up",
            "cctv_capture_up per sensor interface: DOWN means nothing on that segment is being "
            "watched (alert CctvCaptureDown).",
            "short",
            (0, 38, 6, 5),
            f"min by (site, interface) (cctv_capture_up{{{site}}})",
            "{{site}} {{interface}}",
            mappings=UP_MAPPINGS,
        ),
        stat(
            13,
            "Age of the last captured packet",
            "Seconds since the capture time of the newest packet (time() - "
            "cctv_last_packet_timestamp_seconds). Red from 300 s (alert CctvCaptureStale).",
            "s",
            (6, 38, 6, 5),
            f"max by (site) (time() - cctv_last_packet_timestamp_seconds{{{site}}})",
            "{{site}}",
            red_from=300,
        ),
        stat(
            14,
            "Site policy loaded",
            "Whether each sensor's last load of its site policy succeeded (live sensors only; "
            "alert CctvConfigReloadFailed).",
            "short",
            (12, 38, 6, 5),
            f"min by (site, instance) (cctv_config_last_reload_successful{{{site}}})",
            "{{site}} {{instance}}",
            mappings=RELOAD_MAPPINGS,
        ),
        stat(
            15,
            "Last successful policy load",
            "When each sensor last loaded its site policy successfully (live sensors only).",
            "dateTimeFromNow",
            (18, 38, 6, 5),
            "max by (site, instance) "
            f"(cctv_config_last_reload_success_timestamp_seconds{{{site}}}) * 1000",
            "{{site}} {{instance}}",
        ),
    ]


def overview_capture_rates() -> list[Panel]:
    site = 'site=~"$site"'
    drops = f"sum by (site) (rate(cctv_capture_dropped_packets_total{{{site}}}[$__rate_interval]))"
    captured = f"sum by (site) (rate(cctv_capture_packets_total{{{site}}}[$__rate_interval]))"
    return [
        timeseries(
            16,
            "Captured packets",
            "Packets per second delivered by the capture source, per sensor interface.",
            "pps",
            (0, 43, 8, 8),
            "sum by (site, interface) "
            f"(rate(cctv_capture_packets_total{{{site}}}[$__rate_interval]))",
            "{{site}} {{interface}}",
        ),
        timeseries(
            17,
            "Dropped packets",
            "Packets per second the capture lost, where = kernel (buffer full) or interface "
            "(NIC/driver). Lost packets can hide flows.",
            "pps",
            (8, 43, 8, 8),
            "sum by (site, interface, where) "
            f"(rate(cctv_capture_dropped_packets_total{{{site}}}[$__rate_interval]))",
            "{{site}} {{interface}} {{where}}",
        ),
        timeseries(
            18,
            "Drop ratio",
            "Dropped / (dropped + captured) packets per site. Above 0.1% for 10 minutes raises "
            "CctvCaptureDropping.",
            "percentunit",
            (16, 43, 8, 8),
            f"{drops}\n/\n({drops} + {captured})",
            "{{site}}",
        ),
    ]


def overview_sensor_internals() -> list[Panel]:
    site = 'site=~"$site"'
    return [
        timeseries(
            19,
            "Flow-table entries",
            "Flows currently held in each sensor's flow table. A plateau together with "
            "evictions means the table is full.",
            "short",
            (0, 51, 8, 8),
            f"sum by (site) (cctv_flow_table_entries{{{site}}})",
            "{{site}}",
        ),
        timeseries(
            20,
            "Flow-table evictions per second",
            "Flows evicted early because the flow table was full (alert CctvFlowTableEvicting).",
            "short",
            (8, 51, 8, 8),
            f"sum by (site) (rate(cctv_flow_table_evictions_total{{{site}}}[$__rate_interval]))",
            "{{site}}",
        ),
        timeseries(
            21,
            "Decode errors per second",
            "Frames or payloads that could not be decoded, by layer. A steady rise can mean a "
            "wrong link type, jumbo frames cut by the snaplen or unusual encapsulation.",
            "short",
            (16, 51, 8, 8),
            f"sum by (site, layer) (rate(cctv_decode_errors_total{{{site}}}[$__rate_interval]))",
            "{{site}} {{layer}}",
        ),
        table(
            22,
            "Sensors and versions",
            "One row per running sensor with its cctv-monitor version (cctv_build_info; live "
            "sensors only).",
            "short",
            (0, 59, 12, 7),
            f"count by (site, instance, version) (cctv_build_info{{{site}}})",
        ),
        table(
            23,
            "Findings in the last 5 minutes, by site (recording rule)",
            "From the recording rule site:cctv_findings:increase5m (dashboards/prometheus/"
            "rules.yml); empty when that rule file is not loaded.",
            "short",
            (12, 59, 12, 7),
            'site:cctv_findings:increase5m{site=~"$site"} > 0',
        ),
        timeseries(
            24,
            "Capture workers",
            "Capture processes per sensor: expected (--workers) and running (reading their share "
            "of the interface). A dip is a worker that died and was started again (alert "
            "CctvCaptureWorkerRestarted); cctv_capture_up is 1 only while all of them run.",
            "short",
            (0, 66, 12, 7),
            f"sum by (site, instance, state) (cctv_capture_workers{{{site}}})",
            "{{site}} {{instance}} {{state}}",
        ),
    ]


def overview() -> Panel:
    site = query_variable("site", "Site", SITE_VARIABLE_QUERY, multi=True)
    panels = [
        *overview_findings(),
        *overview_egress(),
        *overview_traffic(),
        *overview_capture_status(),
        *overview_capture_rates(),
        *overview_sensor_internals(),
    ]
    return dashboard(
        "cctv-overview",
        "CCTV overview",
        "Does the closed CCTV network talk to the outside, per site, and can the sensor be "
        "trusted.",
        [site],
        [link("CCTV device", "cctv-device", "One device: traffic, flows and findings")],
        panels,
    )


# --------------------------------------------------------------------------- device

DEVICE_TEXT = f"""\
**One device.** Everything the sensor counted for the selected device: packets and bytes by
flow verdict and direction, flows started, findings, when it last sent a packet, and the
vendor endpoints contacted at its site (those counters carry no device label). A closed
network shows only internal, service and discovery traffic here. The flows themselves are
in the sensor's alerts log and evidence pcaps; see the [runbooks]({RUNBOOKS})."""


def device_status() -> list[Panel]:
    dev = 'site=~"$site", device=~"$device"'
    return [
        text(1, "What this dashboard answers", DEVICE_TEXT, (0, 0, 12, 6)),
        stat(
            2,
            "Last seen",
            "Capture time of the last packet the device sent "
            "(cctv_device_last_seen_timestamp_seconds).",
            "dateTimeFromNow",
            (12, 0, 6, 6),
            f"max(cctv_device_last_seen_timestamp_seconds{{{dev}}}) * 1000",
            "last seen",
        ),
        stat(
            3,
            "Findings since sensor start",
            "Findings raised for this device since its sensor started, by kind (red from 1).",
            "short",
            (18, 0, 6, 6),
            f"sum by (kind) (cctv_findings_total{{{dev}}})",
            "{{kind}}",
            red_from=1,
            no_value="none",
        ),
    ]


def device_traffic() -> list[Panel]:
    dev = 'site=~"$site", device=~"$device"'
    return [
        timeseries(
            4,
            "Packets by verdict",
            "Packets per second of the device's flows, by verdict.",
            "pps",
            (0, 6, 12, 8),
            f"sum by (verdict) (rate(cctv_packets_total{{{dev}}}[$__rate_interval]))",
            "{{verdict}}",
        ),
        timeseries(
            5,
            "Bytes by verdict and direction",
            "Bytes per second of the device's flows by verdict; out = sent by the device.",
            "Bps",
            (12, 6, 12, 8),
            f"sum by (verdict, direction) (rate(cctv_bytes_total{{{dev}}}[$__rate_interval]))",
            "{{verdict}} {{direction}}",
        ),
        timeseries(
            6,
            "Bytes crossing the closed-network boundary",
            "Only the egress, vendor_cloud and inbound flows of the device, so that a small "
            "leak is not hidden under video traffic. Empty on a closed network.",
            "Bps",
            (0, 14, 12, 8),
            "sum by (verdict, direction) (rate(cctv_bytes_total"
            f'{{{dev}, verdict=~"egress|vendor_cloud|inbound"}}[$__rate_interval]))',
            "{{verdict}} {{direction}}",
        ),
        timeseries(
            7,
            "Flows started per second, by verdict",
            "New flows per second of the device, by verdict.",
            "short",
            (12, 14, 12, 8),
            f"sum by (verdict) (rate(cctv_flows_total{{{dev}}}[$__rate_interval]))",
            "{{verdict}}",
        ),
    ]


def device_findings() -> list[Panel]:
    dev = 'site=~"$site", device=~"$device"'
    return [
        timeseries(
            8,
            "New findings by kind",
            "Findings raised for the device per interval, by kind; the legend's Total is the "
            "count over the dashboard's range.",
            "short",
            (0, 22, 12, 8),
            counted_per_interval("cctv_findings_total", dev, "kind"),
            "{{kind}}",
            bars=True,
        ),
        table(
            9,
            "Findings by kind and vendor",
            "Findings counters of the device since its sensor started.",
            "short",
            (12, 22, 12, 8),
            f"sum by (kind, vendor) (cctv_findings_total{{{dev}}}) > 0",
        ),
        timeseries(
            10,
            "Vendor endpoint contacts at this site",
            "Flows or lookups attributed to a catalogued vendor endpoint at the device's site "
            "per interval (site-wide: the counter has no device label); the legend's Total is "
            "the count over the dashboard's range.",
            "short",
            (0, 30, 24, 8),
            counted_per_interval(
                "cctv_vendor_endpoint_contacts_total",
                'site=~"$site"',
                "vendor, endpoint",
            ),
            "{{vendor}} {{endpoint}}",
            bars=True,
        ),
    ]


def device() -> Panel:
    site = query_variable("site", "Site", SITE_VARIABLE_QUERY, multi=False)
    dev = query_variable(
        "device", "Device", 'label_values(cctv_packets_total{site=~"$site"}, device)', multi=False
    )
    return dashboard(
        "cctv-device",
        "CCTV device",
        "Traffic, flows and findings of one device of the closed CCTV network.",
        [site, dev],
        [link("CCTV overview", "cctv-overview", "All devices and capture health per site")],
        [*device_status(), *device_traffic(), *device_findings()],
    )


# --------------------------------------------------------------------------- output


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard, exactly as committed."""
    boards = {"cctv-overview.json": overview(), "cctv-device.json": device()}
    return {
        name: json.dumps(board, indent=2, sort_keys=False) + "\n" for name, board in boards.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args(argv)
    stale = []
    for name, content in render().items():
        path = args.out / name
        if args.check:
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current != content:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    if stale:
        print("out of date, run dashboards/build_dashboards.py: " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
