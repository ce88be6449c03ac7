"""Lint the Grafana dashboards and cross-check every metric they, the alerts and the recording
rules use against ``monitor.metrics.ALL_METRICS`` (so exporter and dashboards cannot drift).
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from monitor.metrics import ALL_METRICS

ROOT = Path(__file__).resolve().parents[2]
GRAFANA_DIR = ROOT / "dashboards" / "grafana"
PROMETHEUS_DIR = ROOT / "dashboards" / "prometheus"
PROVISIONING_DIR = ROOT / "dashboards" / "provisioning"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
RUNBOOK_BASE = "https://github.com/cctv-monitor/cctv-monitor/blob/main/docs/runbooks.md#"
DS_REF = {"type": "prometheus", "uid": "${datasource}"}
UNITS = {"Bps", "pps", "bytes", "short", "percentunit", "s", "dateTimeFromNow"}
SCRAPE_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series
OTHER_METRICS = {"up": SCRAPE_LABELS}  # non-cctv metrics the rules may use
METRIC_LABELS = {spec.name: set(spec.labels) | SCRAPE_LABELS for spec in ALL_METRICS}
FUNCTION_SUFFIXES = ("_bucket", "_sum", "_count", "_created")

Rule = dict[str, Any]


# ------------------------------------------------------------------ loading


def _dashboards() -> dict[str, dict[str, Any]]:
    return {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(GRAFANA_DIR.glob("*.json"))
    }


def _panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])  # panels of a collapsed row


def _panel_exprs() -> Iterator[tuple[str, str]]:
    for name, board in _dashboards().items():
        for panel in _panels(board):
            for tgt in panel.get("targets", []):
                yield f"{name} panel {panel['id']}", tgt["expr"]


def _variable_exprs() -> Iterator[tuple[str, str]]:
    for name, board in _dashboards().items():
        for var in board["templating"]["list"]:
            if var["type"] == "query":
                yield f"{name} variable {var['name']}", var["query"]


def _rules(path: Path) -> list[Rule]:
    groups = yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


ALERTS = _rules(PROMETHEUS_DIR / "alerts.yml")
RECORDS = _rules(PROMETHEUS_DIR / "rules.yml")
RECORDED = {rule["record"] for rule in RECORDS}


def _rule_exprs() -> Iterator[tuple[str, str]]:
    for rule in [*ALERTS, *RECORDS]:
        yield rule.get("alert") or rule["record"], rule["expr"]


# ------------------------------------------------------------------ a little PromQL

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_MATCHERS = re.compile(r"\{([^}]*)\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_NAME = re.compile(r"(?<![\w$.])[a-zA-Z_:][\w:]*")


def metric_names(expr: str) -> set[str]:
    """Raw ``cctv_*`` metric names and recording-rule names (with a colon) used in ``expr``."""
    bare = _STRING.sub('""', expr)
    for pattern in (_GROUPING, _MATCHERS, _RANGE):
        bare = pattern.sub(" ", bare)
    names = set(_NAME.findall(bare))
    return {n for n in names if n.startswith("cctv_") or ":" in n or n in OTHER_METRICS}


def label_names(expr: str) -> set[str]:
    """Label names used in grouping clauses and matchers of ``expr``."""
    bare = _STRING.sub('""', expr)
    used = {lbl.strip() for group in _GROUPING.findall(bare) for lbl in group.split(",")}
    for block in _MATCHERS.findall(bare):
        used |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", block))
    return used - {""}


def output_labels(expr: str) -> set[str]:
    """Labels of an expression's result, for the shapes used here: the first ``by (...)``;
    none when it starts with an aggregation without ``by``; else its metrics' labels."""
    grouping = re.search(r"\bby\s*\(([^)]*)\)", expr)
    if grouping:
        return {lbl.strip() for lbl in grouping.group(1).split(",")} - {""}
    if re.match(r"\s*(sum|min|max|count|avg)\s*\(", expr):
        return set()
    return set().union(*(available_labels(n) for n in metric_names(expr)))


def available_labels(name: str) -> set[str]:
    """Labels a metric or recording rule carries."""
    if name in OTHER_METRICS:
        return OTHER_METRICS[name]
    if name in RECORDED:
        rule = next(r for r in RECORDS if r["record"] == name)
        return output_labels(rule["expr"])
    return METRIC_LABELS.get(_strip_suffix(name), set())


def _strip_suffix(name: str) -> str:
    if name in METRIC_LABELS:
        return name
    for suffix in FUNCTION_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in METRIC_LABELS:
            return name[: -len(suffix)]
    return name


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


# ------------------------------------------------------------------ dashboards


def test_dashboards_parse_with_unique_fixed_uids() -> None:
    boards = _dashboards()
    assert set(boards) == {"cctv-overview.json", "cctv-device.json"}
    uids = [b["uid"] for b in boards.values()]
    assert sorted(uids) == ["cctv-device", "cctv-overview"]
    for name, board in boards.items():
        assert board["uid"] == name.removesuffix(".json")
        assert board["schemaVersion"] == 39
        assert board["tags"] == ["cctv"]


def test_dashboards_link_to_each_other() -> None:
    boards = _dashboards()
    for name, other in (
        ("cctv-overview.json", "cctv-device"),
        ("cctv-device.json", "cctv-overview"),
    ):
        urls = [link["url"] for link in boards[name]["links"]]
        assert any(url.startswith(f"/d/{other}/") for url in urls), name


def test_exactly_one_datasource_variable_and_site_variable() -> None:
    for name, board in _dashboards().items():
        variables = board["templating"]["list"]
        ds = [v for v in variables if v["type"] == "datasource"]
        assert len(ds) == 1 and ds[0]["name"] == "datasource", name
        assert ds[0]["query"] == "prometheus"
        by_name = {v["name"]: v for v in variables}
        assert by_name["site"]["query"] == "label_values(cctv_capture_packets_total, site)"
        for var in variables:
            if var["type"] == "query":
                assert var["datasource"] == DS_REF, (name, var["name"])
    device_vars = {v["name"]: v for v in _dashboards()["cctv-device.json"]["templating"]["list"]}
    assert (
        device_vars["device"]["query"] == 'label_values(cctv_packets_total{site=~"$site"}, device)'
    )


def test_every_panel_and_target_uses_the_datasource_variable() -> None:
    for name, board in _dashboards().items():
        for panel in _panels(board):
            assert panel["datasource"] == DS_REF, (name, panel["id"])
            for tgt in panel.get("targets", []):
                assert tgt["datasource"] == DS_REF, (name, panel["id"], tgt["refId"])


def test_every_panel_has_a_description_and_every_data_panel_a_unit() -> None:
    for name, board in _dashboards().items():
        texts = 0
        for panel in _panels(board):
            assert panel.get("description"), (name, panel["id"])
            if panel["type"] == "text":
                texts += 1
                continue
            assert panel["targets"], (name, panel["id"])
            assert panel["fieldConfig"]["defaults"].get("unit") in UNITS, (name, panel["id"])
        assert texts == 1, name


def test_panel_ids_are_unique_and_panels_do_not_overlap() -> None:
    for name, board in _dashboards().items():
        panels = list(_panels(board))
        assert len({p["id"] for p in panels}) == len(panels), name
        cells: set[tuple[int, int]] = set()
        for p in panels:
            g = p["gridPos"]
            mine = {
                (x, y)
                for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])
            }
            assert g["x"] + g["w"] <= 24 and not cells & mine, (name, p["id"])
            cells |= mine


def test_every_range_is_the_rate_interval() -> None:
    for where, expr in _panel_exprs():
        for fn, window in re.findall(r"\b(rate|irate|increase)\s*\([^\[\]()]*\[([^\]]*)\]", expr):
            assert window == "$__rate_interval", (where, fn)
        calls = len(re.findall(r"\b(?:rate|irate|increase)\s*\(", expr))
        assert len(re.findall(r"\[\$__rate_interval\]", expr)) >= calls, where
        assert set(_RANGE.findall(expr)) <= {"[$__rate_interval]"}, where


def test_every_selector_filters_on_the_site_variable() -> None:
    for where, expr in [*_panel_exprs(), *_variable_exprs()]:
        if where.endswith("variable site"):
            continue
        for name, matchers in re.findall(r"([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?", expr):
            if name.startswith("cctv_") or ":" in name:
                assert 'site=~"$site"' in matchers, (where, name)


# ------------------------------------------------------------------ metric names and labels


def test_every_metric_used_exists() -> None:
    for where, expr in [*_panel_exprs(), *_variable_exprs(), *_rule_exprs()]:
        for name in metric_names(expr):
            if ":" in name:
                assert name in RECORDED, (where, name)
            else:
                assert name in OTHER_METRICS or _strip_suffix(name) in METRIC_LABELS, (where, name)


def test_every_exported_metric_is_used() -> None:
    used = {
        _strip_suffix(name)
        for _, expr in [*_panel_exprs(), *_rule_exprs()]
        for name in metric_names(expr)
    }
    assert {spec.name for spec in ALL_METRICS} - used == set()


def test_panels_use_recording_rules_that_exist() -> None:
    used = {n for _, expr in _panel_exprs() for n in metric_names(expr) if ":" in n}
    assert used, "no panel uses a recording rule"
    assert used <= RECORDED


@pytest.mark.parametrize("source", ["panels", "rules"])
def test_only_existing_labels_are_used(source: str) -> None:
    exprs = list(_panel_exprs()) if source == "panels" else list(_rule_exprs())
    for where, expr in exprs:
        allowed = set().union(*(available_labels(n) for n in metric_names(expr)))
        assert label_names(expr) <= allowed, where


def test_legends_use_existing_labels() -> None:
    for name, board in _dashboards().items():
        for panel in _panels(board):
            for tgt in panel.get("targets", []):
                legend = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", tgt["legendFormat"]))
                assert legend <= output_labels(tgt["expr"]), (name, panel["id"])


# ------------------------------------------------------------------ rules


def test_recording_rules_follow_level_metric_operations() -> None:
    for rule in RECORDS:
        assert re.fullmatch(r"[a-z_]*:cctv_[a-z0-9_]+:[a-z0-9_]+", rule["record"]), rule["record"]
    assert len(RECORDED) == len(RECORDS)


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    anchors = _anchors(RUNBOOKS.read_text(encoding="utf-8"))
    for rule in ALERTS:
        name, ann = rule["alert"], rule["annotations"]
        assert re.fullmatch(r"Cctv[A-Z][A-Za-z]+", name)
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert ann["summary"].endswith(".") and "{{" not in ann["summary"], name
        assert ann["description"].strip(), name
        assert ann["runbook_url"].startswith(RUNBOOK_BASE), name
        anchor = ann["runbook_url"].removeprefix(RUNBOOK_BASE)
        assert anchor == name.lower() and anchor in anchors, name


def test_alert_descriptions_name_site_and_device_when_the_series_has_them() -> None:
    for rule in ALERTS:
        labels = output_labels(rule["expr"])
        for label in ("site", "device"):
            if label in labels:
                assert f"$labels.{label}" in rule["annotations"]["description"], rule["alert"]
        used = set(re.findall(r"\$labels\.(\w+)", rule["annotations"]["description"]))
        assert used <= labels, rule["alert"]


def test_findings_alerts_are_critical_for_traffic_across_the_boundary() -> None:
    severity = {r["alert"]: r["labels"]["severity"] for r in ALERTS}
    for name in ("CctvDeviceEgress", "CctvDeviceVendorCloud", "CctvInboundExposure"):
        assert severity[name] == "critical"
    assert severity["CctvUpnpPortMapping"] == "critical"


# ------------------------------------------------------------------ generator and provisioning


def _generator() -> ModuleType:
    path = ROOT / "dashboards" / "build_dashboards.py"
    spec = importlib.util.spec_from_file_location("build_dashboards", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_reproduces_the_committed_json() -> None:
    rendered = _generator().render()
    assert sorted(rendered) == sorted(p.name for p in GRAFANA_DIR.glob("*.json"))
    for name, content in rendered.items():
        assert (GRAFANA_DIR / name).read_bytes() == content.encode("utf-8"), (
            f"{name} is out of date: run python dashboards/build_dashboards.py"
        )


def test_provisioning_files() -> None:
    ds = yaml.safe_load((PROVISIONING_DIR / "datasources" / "prometheus.yaml").read_text())
    [source] = ds["datasources"]
    assert source["type"] == "prometheus" and source["uid"]
    assert source["url"] == "http://localhost:9090"
    boards = yaml.safe_load((PROVISIONING_DIR / "dashboards" / "cctv.yaml").read_text())
    [provider] = boards["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
