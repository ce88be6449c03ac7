"""Every shipped panel query, recording rule and alert, run by a real Prometheus over history.

The demo capture is replayed with ``--metrics-out`` (a sample every 15 s of packet time),
backfilled with ``promtool tsdb create-blocks-from openmetrics``, and the recording rules'
history is backfilled with ``promtool tsdb create-blocks-from rules`` (Prometheus evaluates
rules only at "now", months after the capture). A ``prometheus`` on loopback then serves that
TSDB with the shipped ``rules.yml`` and ``alerts.yml`` loaded, and every query goes through
``/api/v1/query_range`` over the capture's time range: it must succeed, and return data unless
the allow-lists below say why the capture cannot produce that metric.

Skipped with the reason when ``prometheus`` or ``promtool`` is missing, except under CI
where that fails (``tests/requirements.py``; Debian package ``prometheus``; ``make
system-deps``). Every time limit is scaled by ``CCTV_TEST_TIMEOUT_SCALE`` (``tests/waiting.py``).
The helpers live in ``dashboards/promlab.py`` (shared with ``dashboards/render_previews.py``).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.requirements import require_tool
from tests.waiting import poll, scaled

ROOT = Path(__file__).resolve().parents[2]


def _load_promlab() -> ModuleType:
    if "promlab" in sys.modules:
        return sys.modules["promlab"]
    spec = importlib.util.spec_from_file_location("promlab", ROOT / "dashboards" / "promlab.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["promlab"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


promlab = _load_promlab()

pytestmark = [pytest.mark.tools, pytest.mark.slow]

SITE = "demo-hansaplatz"
DEVICE = "cam-hansa-01"  # has egress, vendor_cloud, vendor_lookup, upnp and inbound findings
STEP = 15.0  # = --metrics-interval
# Grafana's variables. $__rate_interval must cover at least 4 sample spacings (Grafana's own
# rule: max(4 * scrape interval, $__interval + scrape interval)).
VARIABLES = {
    "site": SITE,
    "device": DEVICE,
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "5m",
}

# Panels whose metric a replay cannot produce, or this capture does not contain. For these
# only the query's validity is checked. (dashboard uid, panel id) -> (metric the panel must
# use, reason); the metric ties the entry to the panel so that renumbering is noticed.
EMPTY_PANELS: dict[tuple[str, int], tuple[str, str]] = {
    # Live-only: whether the capture handle is open is decided at scrape time.
    ("cctv-overview", 12): ("cctv_capture_up", "live-only: capture state at scrape time"),
    # Live-only: a replay has no config reload to report.
    ("cctv-overview", 14): (
        "cctv_config_last_reload_successful",
        "live-only: no policy reload in a replay",
    ),
    ("cctv-overview", 15): (
        "cctv_config_last_reload_success_timestamp_seconds",
        "live-only: no policy reload in a replay",
    ),
    # Live-only: a file has no kernel or NIC drops.
    ("cctv-overview", 17): (
        "cctv_capture_dropped_packets_total",
        "live-only: a replayed file cannot drop packets",
    ),
    ("cctv-overview", 18): (
        "cctv_capture_dropped_packets_total",
        "live-only: the drop ratio needs the drop counter",
    ),
    # The demo capture decodes cleanly (report: undecodable 0); the counter has labels, so no
    # series exists before the first error.
    ("cctv-overview", 21): (
        "cctv_decode_errors_total",
        "no undecodable frames in the demo capture",
    ),
    # Live-only: the version of the running process.
    ("cctv-overview", 22): ("cctv_build_info", "live-only: build info of the running sensor"),
    # Live-only: a replay has no capture workers.
    ("cctv-overview", 24): ("cctv_capture_workers", "live-only: capture worker processes"),
}

# Recording rules the same way: rule name -> reason.
EMPTY_RULES: dict[str, str] = {
    "site:cctv_capture_dropped_packets:rate5m": "live-only: a replayed file cannot drop packets",
    "site:cctv_capture_dropped_packets_per_capture_packets:ratio_rate5m": (
        "live-only: needs the drop counter"
    ),
    ":cctv_capture_dropped_packets_per_capture_packets:ratio_rate5m": (
        "live-only: needs the drop counter"
    ),
    "site:cctv_capture_up:min": "live-only: capture state at scrape time",
    "job:cctv_capture_up:min": "live-only: capture state at scrape time",
    "site:cctv_decode_errors:rate5m": "no undecodable frames in the demo capture",
    "site:cctv_config_last_reload_successful:min": "live-only: no policy reload in a replay",
    "site:cctv_config_last_reload_success_timestamp_seconds:min": (
        "live-only: no policy reload in a replay"
    ),
    "version:cctv_build_info:count": "live-only: build info of the running sensor",
}

# The findings alerts must fire on this capture: it has every finding kind.
FINDINGS_ALERTS = {
    "CctvDeviceEgress",
    "CctvDeviceVendorCloud",
    "CctvVendorLookup",
    "CctvUpnpPortMapping",
    "CctvInboundExposure",
    "CctvExternalResolver",
}


def _rules(path: Path) -> list[dict[str, Any]]:
    groups = yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


TARGETS = [
    t
    for name in ("cctv-overview", "cctv-device")
    for t in promlab.panel_targets(promlab.load_dashboard(name), VARIABLES)
]
RECORDS = _rules(promlab.RULES)
ALERTS = _rules(promlab.ALERTS)


# ------------------------------------------------------------------ the lab


@dataclass(frozen=True)
class Lab:
    url: str
    start: float
    end: float
    report: dict[str, Any]  # the replay's JSON report


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    prometheus, promtool = require_tool("prometheus"), require_tool("promtool")
    work = tmp_path_factory.mktemp("promlab")
    backfill = promlab.replay_to_tsdb(
        promlab.DEMO_PCAP,
        promlab.SITE_CONFIG,
        work,
        interval=STEP,
        promtool=promtool,
        timeout=scaled(60),
    )
    start, end = backfill.first_ts, backfill.last_ts + 60
    with promlab.start_prometheus(backfill.tsdb, prometheus=prometheus, timeout=scaled(30)) as url:
        promlab.backfill_rules(
            url, [promlab.RULES], backfill.tsdb, start, end, promtool=promtool, timeout=scaled(60)
        )
    rule_files = [promlab.RULES, promlab.ALERTS]
    with promlab.start_prometheus(
        backfill.tsdb, rule_files=rule_files, prometheus=prometheus, timeout=scaled(30)
    ) as url:
        yield Lab(url, start, end, backfill.report)


def _query(lab: Lab, expr: str) -> list[dict[str, Any]]:
    return promlab.query_range(lab.url, expr, lab.start, lab.end, STEP, timeout=scaled(10))


# ------------------------------------------------------------------ tests


def test_backfilled_capture_is_served_despite_its_age(lab: Lab) -> None:
    """The capture is from 2026-03-02; retention must not drop it (see promlab's docstring)."""
    assert lab.start == pytest.approx(1772438400.1)
    series = _query(lab, 'count(cctv_packets_total{site="demo-hansaplatz"})')
    assert series and len(series[0]["values"]) >= (lab.end - lab.start) // STEP - 2
    info = promlab.api_get(lab.url, "/api/v1/status/runtimeinfo", timeout=scaled(10))
    assert info["storageRetention"].startswith("100y")


def test_allow_lists_name_existing_panels_and_rules() -> None:
    by_key = {(t.dashboard, t.panel_id): t for t in TARGETS}
    for key, (metric, _reason) in EMPTY_PANELS.items():
        assert key in by_key, f"allow-listed panel {key} does not exist"
        assert metric in by_key[key].raw_expr, f"panel {key} no longer uses {metric}"
    assert set(EMPTY_RULES) <= {r["record"] for r in RECORDS}


@pytest.mark.parametrize("tgt", TARGETS, ids=lambda t: f"{t.dashboard}-{t.panel_id}")
def test_panel_query_returns_data(lab: Lab, tgt: Any) -> None:
    series = _query(lab, tgt.expr)  # raises PrometheusError when the query is invalid
    if (tgt.dashboard, tgt.panel_id) in EMPTY_PANELS:
        return
    assert series, f"{tgt.dashboard} panel {tgt.panel_id} '{tgt.title}' is empty:\n{tgt.expr}"
    assert any(s["values"] for s in series)


@pytest.mark.parametrize("rule", RECORDS, ids=lambda r: r["record"])
def test_recording_rule_returns_data(lab: Lab, rule: dict[str, Any]) -> None:
    series = _query(lab, rule["expr"])
    if rule["record"] in EMPTY_RULES:
        return
    assert series, f"recording rule {rule['record']} is empty over the capture"


def _rules_state(lab: Lab) -> list[tuple[str, dict[str, Any]]]:
    """(file, rule) for every rule Prometheus has loaded, with its evaluation state."""
    groups = promlab.api_get(lab.url, "/api/v1/rules", timeout=scaled(10))["groups"]
    return [(g["file"], r) for g in groups for r in g["rules"]]


def _never_evaluated(rules: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [r["name"] for _, r in rules if r["lastEvaluation"].startswith("0001-")]


def test_rule_groups_evaluate_without_errors(lab: Lab) -> None:
    # Rules are evaluated every second: wait until each has been evaluated once.
    rules = poll(lambda: _rules_state(lab), 15, lambda rs: not _never_evaluated(rs), 0.5)
    pending = _never_evaluated(rules)
    assert not pending, f"never evaluated within {scaled(15):g} s: {pending}"
    files = {Path(f).name for f, _ in rules}
    assert files == {"rules.yml", "alerts.yml"}
    assert len(rules) == len(RECORDS) + len(ALERTS)
    bad = {r["name"]: r.get("lastError") for _, r in rules if r["health"] != "ok"}
    assert bad == {}


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: r["alert"])
def test_alert_expression(lab: Lab, rule: dict[str, Any]) -> None:
    series = _query(lab, rule["expr"])
    if rule["alert"] in FINDINGS_ALERTS:
        assert series, f"{rule['alert']} does not fire on the demo capture"


def test_bytes_sent_outside_show_every_device_that_sent_outside(lab: Lab) -> None:
    selector = 'site="demo-hansaplatz", verdict=~"egress|vendor_cloud", direction="out"'
    sent = _query(lab, f"sum by (device) (cctv_bytes_total{{{selector}}}) > 0")
    devices = {s["metric"]["device"] for s in sent}
    [tgt] = [t for t in TARGETS if t.title == "Bytes sent outside, by device"]
    shown = {
        s["metric"]["device"]
        for s in _query(lab, tgt.expr)
        if any(float(v) > 0 for _, v in s["values"])
    }
    assert len(devices) >= 5
    assert shown == devices


# ------------------------------------------------------------------ exact counts

# The count panels: bars of events per interval, whose legend Total is the count over the
# dashboard's range. (dashboard uid, panel id) -> the counter they count.
FINDINGS, CONTACTS = "cctv_findings_total", "cctv_vendor_endpoint_contacts_total"
COUNT_PANELS = {
    ("cctv-overview", 3): FINDINGS,
    ("cctv-overview", 8): CONTACTS,
    ("cctv-device", 8): FINDINGS,
    ("cctv-device", 10): CONTACTS,
}
# Steps Grafana may pick for the range ($__interval = step): the sample spacing, one that is
# not a multiple of it, and one window longer than the whole capture.
GRAFANA_STEPS = (15, 20, 60, 300)


def _bar_panels() -> dict[tuple[str, int], dict[str, Any]]:
    boards = [promlab.load_dashboard(n) for n in ("cctv-overview", "cctv-device")]
    panels = [(b["uid"], p) for b in boards for p in b["panels"] if p["type"] == "timeseries"]
    return {
        (uid, p["id"]): p
        for uid, p in panels
        if p["fieldConfig"]["defaults"]["custom"]["drawStyle"] == "bars"
    }


def test_count_panels_are_the_bar_panels_and_total_their_range() -> None:
    bars = _bar_panels()
    assert set(bars) == set(COUNT_PANELS)
    for key, panel in bars.items():
        [tgt] = panel["targets"]
        assert COUNT_PANELS[key] in tgt["expr"], key
        assert "increase(" not in tgt["expr"], f"{key}: increase() extrapolates to fractions"
        assert panel["options"]["legend"]["calcs"] == ["sum"], key


def _report_counts(
    report: dict[str, Any], metric: str, keys: tuple[str, ...], device: str | None
) -> dict[tuple[str, ...], int]:
    """What the report says the counter counted, grouped by the panel's labels: flows per
    finding kind, or per vendor endpoint (flows and lookups attributed to it)."""
    names = {d["ip"]: d["name"] or d["ip"] for d in report["devices"]}
    counts: Counter[tuple[str, ...]] = Counter()
    for f in report["findings"]:
        if metric == CONTACTS and not f["endpoint"]:
            continue
        if device is not None and names.get(f["device"]) != device:
            continue
        labels = {"site": SITE, "kind": f["kind"], "vendor": f["vendor"], "endpoint": f["endpoint"]}
        counts[tuple(labels[k] for k in keys)] += f["flows"]
    return dict(counts)


@pytest.mark.parametrize("step", GRAFANA_STEPS, ids=lambda s: f"{s}s")
@pytest.mark.parametrize("key", sorted(COUNT_PANELS), ids=lambda k: f"{k[0]}-{k[1]}")
def test_count_panel_totals_are_the_reports_counts(
    lab: Lab, key: tuple[str, int], step: int
) -> None:
    """Whole numbers per interval that add up, over the range, to the report's counts."""
    variables = VARIABLES | {
        "__interval": f"{step}s",
        # Grafana's rule: max($__interval + scrape interval, 4 * scrape interval)
        "__rate_interval": f"{max(step + STEP, 4 * STEP):g}s",
    }
    board = promlab.load_dashboard(key[0])
    [tgt] = [t for t in promlab.panel_targets(board, variables) if t.panel_id == key[1]]
    # Grafana queries with step = $__interval, the range aligned to whole steps.
    start = math.floor(lab.start / step) * step
    end = math.ceil(lab.end / step) * step
    series = promlab.query_range(lab.url, tgt.expr, start, end, step, timeout=scaled(10))
    assert series, tgt.expr
    values = [float(v) for s in series for _, v in s["values"]]
    assert all(v >= 0 and v.is_integer() for v in values), sorted(set(values))
    [keys] = {tuple(sorted(s["metric"])) for s in series}
    shown = {
        tuple(s["metric"][k] for k in keys): int(sum(float(v) for _, v in s["values"]))
        for s in series
    }
    device = DEVICE if key[0] == "cctv-device" and COUNT_PANELS[key] == FINDINGS else None
    expected = _report_counts(lab.report, COUNT_PANELS[key], keys, device)
    assert len(expected) >= 2
    assert shown == expected
