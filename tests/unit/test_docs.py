"""The repo documents itself: docs/policy.md and docs/metrics.md against the code.

Every key the policy loader accepts is in docs/policy.md and nothing else is; every YAML
example there loads, and every error example gives exactly the errors shown. Every metric
the sensor or ``replay --metrics-out`` exports is in docs/metrics.md with its type,
labels and the alerts and dashboards that use it, and nothing else is.
"""

from __future__ import annotations

import ast
import contextlib
import io
import ipaddress
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from monitor.cli import main
from monitor.config import default_policy, describe_policy, load_policy
from monitor.config import loader as loader_module
from monitor.config.policy import DEFAULT_CLOSED, PROTOS, ROLES, SERVICE_KINDS, Limits
from monitor.exporter.collector import SensorInfo, build_registry
from monitor.metrics import ALL_METRICS, REPLAY_METRICS
from monitor.model import ConfigError, EndReason, FindingKind, Verdict

REPO = Path(__file__).resolve().parents[2]
POLICY_MD = REPO / "docs" / "policy.md"
METRICS_MD = REPO / "docs" / "metrics.md"
DEMO = REPO / "pcaps" / "demo_day.pcap.gz"
DEMO_SITE = REPO / "pcaps" / "site.yaml"
PROMETHEUS = REPO / "dashboards" / "prometheus"
GRAFANA = REPO / "dashboards" / "grafana"

# -------------------------------------------------------------------- reading Markdown


def fenced_blocks(text: str) -> list[tuple[str, str, int]]:
    """(info string, body, line of the opening fence) of every fenced code block."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].startswith("```"):
            info, start = lines[i][3:].strip(), i
            i += 1
            body = []
            while not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append((info, "\n".join(body) + "\n", start + 1))
        i += 1
    return blocks


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a ``## `` line) up to the next ``## `` heading."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def table_rows(text: str) -> dict[str, list[str]]:
    """Table rows whose first cell is one backticked name: name -> the other cells."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`([^`]+)`", cells[0]) if line.startswith("| `") else None
        if match:
            assert match.group(1) not in rows, f"{match.group(1)} documented twice"
            rows[match.group(1)] = cells[1:]
    return rows


def backticked(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


def listed_values(cell: str) -> set[str]:
    """The backticked values of a cell, leaving out what its parentheses explain."""
    while re.search(r"\([^()]*\)", cell):
        cell = re.sub(r"\([^()]*\)", "", cell)
    return backticked(cell)


# -------------------------------------------------------------------- docs/policy.md

POLICY = POLICY_MD.read_text(encoding="utf-8")
# Where each of the loader's key sets lives in a policy file.
KEY_PREFIXES = {
    "_TOP_KEYS": "",
    "_DEVICE_KEYS": "devices[].",
    "_ALLOW_KEYS": "allow[].",
    "_MIRROR_KEYS": "mirror.",
    "_LIMIT_KEYS": "limits.",
}


def accepted_keys() -> set[str]:
    """Every key path the loader accepts, read from its key tables."""
    tables = {
        name: value
        for name, value in vars(loader_module).items()
        if re.fullmatch(r"_[A-Z]+_KEYS", name) and isinstance(value, dict)
    }
    assert set(tables) == set(KEY_PREFIXES), "a new key table: give it a prefix here"
    paths = {KEY_PREFIXES[name] + key for name, keys in tables.items() for key in keys}
    return paths | {f"services.{kind}" for kind in SERVICE_KINDS}


def policy_key_rows() -> dict[str, list[str]]:
    return table_rows(section(POLICY, "Keys"))


def test_every_accepted_key_is_documented_and_no_other() -> None:
    documented = set(policy_key_rows())
    assert accepted_keys() - documented == set(), "accepted by the loader, not documented"
    assert documented - accepted_keys() == set(), "documented, not accepted by the loader"


def test_required_keys_and_limit_defaults_are_as_documented() -> None:
    rows = policy_key_rows()
    for key, required in loader_module._TOP_KEYS.items():
        assert rows[key][1] == ("yes" if required else "no"), key
    for key, required in loader_module._ALLOW_KEYS.items():
        assert rows[f"allow[].{key}"][1] == ("yes" if required else "no"), key
    for field in loader_module._LIMIT_KEYS:
        default = getattr(Limits(), field)
        assert rows[f"limits.{field}"][2] == f"{default:,}", field


def test_value_vocabularies_are_documented() -> None:
    rows = policy_key_rows()
    assert backticked(rows["devices[].role"][0]) == set(ROLES)
    assert backticked(rows["allow[].proto"][0]) == set(PROTOS)


def examples(kind: str) -> list[tuple[str, str, int]]:
    return [b for b in fenced_blocks(POLICY) if b[0] == kind]


def example_and_text(kind: str) -> Iterator[tuple[str, str, int]]:
    """(YAML, the text block right after it, line) for every ``kind`` block."""
    blocks = fenced_blocks(POLICY)
    for i, (info, body, line) in enumerate(blocks):
        if info == kind:
            assert blocks[i + 1][0] == "text", f"line {line}: no text block after it"
            yield body, blocks[i + 1][1], line


def write_site(tmp_path: Path, body: str) -> str:
    path = tmp_path / "site.yaml"
    path.write_text(body, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("body,line", [(b, ln) for _, b, ln in examples("yaml")])
def test_every_yaml_example_loads(tmp_path: Path, body: str, line: int) -> None:
    policy = load_policy(write_site(tmp_path, body))
    assert policy.site and policy.closed_networks, f"docs/policy.md:{line}"
    assert policy.warnings == (), f"docs/policy.md:{line}: an example should be clean"


def test_the_complete_example_is_understood_as_described(tmp_path: Path) -> None:
    first = examples("yaml")[0][1]
    p = load_policy(write_site(tmp_path, first))
    assert p.site == "hamburg-hansaplatz"
    assert [d.label for d in p.devices] == ["cam-hansa-01", "10.20.1.0/24", "nvr-1"]
    assert p.allowed("10.20.1.7", "10.20.0.2", "tcp", 8000)
    assert not p.allowed("10.20.1.7", "10.20.0.2", "tcp", 8001)


@pytest.mark.parametrize("body,text,line", list(example_and_text("yaml error")))
def test_every_error_example_gives_the_documented_errors(
    tmp_path: Path, body: str, text: str, line: int
) -> None:
    path = write_site(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    assert str(info.value).replace(path, "site.yaml") + "\n" == text, f"docs/policy.md:{line}"


@pytest.mark.parametrize("body,text,line", list(example_and_text("yaml warning")))
def test_every_warning_example_gives_the_documented_warnings(
    tmp_path: Path, body: str, text: str, line: int
) -> None:
    path = write_site(tmp_path, body)
    shown = describe_policy(load_policy(path)).replace(path, "site.yaml").splitlines()
    assert [w + "\n" for w in shown if w.startswith("warning: ")] == text.splitlines(True)


def test_the_built_in_default_policy_is_documented() -> None:
    text = section(POLICY, "The built-in default policy")
    default = default_policy()
    assert f"`site` is `{default.site}`" in text
    documented = {ipaddress.ip_network(n) for n in backticked(text) if "/" in n}
    assert documented == set(map(ipaddress.ip_network, DEFAULT_CLOSED))
    assert set(default.closed_networks) == documented


# -------------------------------------------------------------------- docs/metrics.md

METRICS = METRICS_MD.read_text(encoding="utf-8")
CATALOG = {spec.name for spec in ALL_METRICS}
_NAME = re.compile(r"(?<![\w:-])((?:cctv|process|python)_[a-z0-9_]+)")


def _sample_name(name: str, kind: str) -> str:
    return f"{name}_total" if kind == "counter" else name


@pytest.fixture(scope="module")
def replay_metrics(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``replay --metrics-out`` of the demo capture, as text."""
    out = tmp_path_factory.mktemp("metrics") / "demo.om"
    argv = ["replay", str(DEMO), "--config", str(DEMO_SITE), "--metrics-out", str(out)]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*argv, "--no-progress"]) == 1
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def exported(replay_metrics: str) -> dict[str, tuple[str, tuple[str, ...] | None]]:
    """Every metric the code exports: sample name -> (type, label names when known).

    From a live collector's registry (process metrics included), from the families of a
    ``replay --metrics-out`` file and from the metric catalog.
    """
    info = SensorInfo("s", "1", True, 1.0, {"rate": 1}, 2.0)
    registry = build_registry(lambda: None, lambda: info, process_metrics=True)
    out: dict[str, tuple[str, tuple[str, ...] | None]] = {}
    for family in registry.collect():
        labels = {tuple(s.labels) for s in family.samples}
        out[_sample_name(family.name, family.type)] = (
            family.type,
            labels.pop() if len(labels) == 1 else None,
        )
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", replay_metrics, re.M):
        out.setdefault(_sample_name(name, kind), (kind, None))
    for spec in ALL_METRICS:
        out[spec.name] = (spec.kind, spec.labels)
    return out


def metric_rows() -> dict[str, list[str]]:
    return {k: v for k, v in table_rows(METRICS).items() if _NAME.fullmatch(k)}


def test_every_exported_metric_is_documented_and_no_other(exported: dict) -> None:
    rows = metric_rows()
    assert set(exported) - set(rows) == set(), "exported, not in a table of docs/metrics.md"
    mentioned = set(_NAME.findall(METRICS))
    assert mentioned - set(exported) == set(), "named in docs/metrics.md, not exported"


def test_every_metric_name_in_the_code_is_documented() -> None:
    """A ``cctv_`` name written anywhere in the package (a metric registered outside the
    catalog too) has its row in docs/metrics.md."""
    literals = {
        node.value
        for path in (REPO / "monitor").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"cctv_[a-z0-9_]+", node.value)
    }
    assert len(literals) >= len(ALL_METRICS)
    assert literals - set(metric_rows()) == set()


def test_types_and_labels_are_as_documented(exported: dict) -> None:
    for name, (kind, labels) in exported.items():
        row = metric_rows()[name]
        assert row[0] == kind, name
        documented = () if row[1] == "—" else tuple(x.strip() for x in row[1].split(","))
        if name in CATALOG:
            assert documented == labels, name  # in the order the series carry them
        elif labels is not None:
            assert set(documented) == set(labels), name


def test_replay_metrics_out_writes_what_the_docs_say(replay_metrics: str) -> None:
    families = re.findall(r"^# TYPE (\S+) (\S+)$", replay_metrics, re.M)
    assert [_sample_name(n, k) for n, k in families] == [s.name for s in REPLAY_METRICS]
    assert replay_metrics.endswith("# EOF\n")
    assert 'interface="replay"' in replay_metrics


def _alert_rules() -> list[dict]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _raw_metrics(expr: str, records: dict[str, str]) -> set[str]:
    """The ``cctv_`` metrics an expression reads, through recording rules too."""
    out: set[str] = set()
    for name in re.findall(r"[a-zA-Z_:][\w:]*", re.sub(r'"[^"]*"', '""', expr)):
        if name in records:
            out |= _raw_metrics(records[name], records)
        elif name.startswith("cctv_"):
            out.add(name)
    return out


def _strings(node: object, key: str) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key and isinstance(v, str):
                yield v
            else:
                yield from _strings(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v, key)


def used_by() -> dict[str, tuple[set[str], set[str]]]:
    """metric -> (alert names, dashboard names) that read it."""
    groups = yaml.safe_load((PROMETHEUS / "rules.yml").read_text(encoding="utf-8"))["groups"]
    records = {r["record"]: r["expr"] for g in groups for r in g["rules"]}
    out: dict[str, tuple[set[str], set[str]]] = {}
    for rule in _alert_rules():
        for name in _raw_metrics(rule["expr"], records):
            out.setdefault(name, (set(), set()))[0].add(rule["alert"])
    for path in sorted(GRAFANA.glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        exprs = [*_strings(board, "expr"), *_strings(board.get("templating", {}), "query")]
        for name in set().union(*(_raw_metrics(e, records) for e in exprs)):
            out.setdefault(name, (set(), set()))[1].add(path.stem.removeprefix("cctv-"))
    return out


def test_used_by_names_every_alert_and_dashboard_reading_the_metric() -> None:
    uses = used_by()
    assert uses, "no alert or dashboard read"
    for name, row in metric_rows().items():
        alerts, boards = uses.get(name, (set(), set()))
        cell = row[-1]
        assert {a for a in backticked(cell) if a.startswith("Cctv")} == alerts, name
        listed = re.search(r"dashboards: ([a-z, ]+)", cell)
        assert set(listed.group(1).split(", ") if listed else ()) == boards, name


def label_rows() -> dict[str, list[str]]:
    return table_rows(section(METRICS, "Labels and their values"))


def test_every_label_is_documented_with_its_closed_values() -> None:
    from monitor.classify import devices
    from monitor.classify.devices import OTHER_LABEL, OUTSIDE_LABEL, UNKNOWN
    from monitor.decode.frames import DECODE_ERROR_LAYERS
    from monitor.live.alerts import REASONS

    rows = label_rows()
    assert set(rows) == {label for spec in ALL_METRICS for label in spec.labels}
    closed = {
        "verdict": {v.value for v in Verdict},
        "kind": {k.value for k in FindingKind},
        "role": {*ROLES, UNKNOWN},
        "reason": set(REASONS),
        "layer": {"ip", *DECODE_ERROR_LAYERS.values()},
    }
    for label, values in closed.items():
        assert listed_values(rows[label][0]) == values, label
    words = {v for k, v in vars(devices).items() if k.endswith("_LABEL") and isinstance(v, str)}
    assert {OTHER_LABEL, OUTSIDE_LABEL} <= words
    assert words <= listed_values(rows["device"][0]), "a device label word not documented"
    assert UNKNOWN in listed_values(rows["vendor"][0])


def test_label_values_of_a_replay_are_documented(replay_metrics: str) -> None:
    """Every value of a bounded label in the demo's metrics is listed in its row;
    ``device`` values are inventory names, closed-network addresses or listed words."""
    rows = label_rows()
    inventory = {d.name for d in load_policy(str(DEMO_SITE)).devices}
    seen: dict[str, set[str]] = {}
    for label, value in re.findall(r'(\w+)="([^"]*)"', replay_metrics):
        seen.setdefault(label, set()).add(value)
    for label in ("verdict", "direction", "kind", "role", "interface"):
        assert seen[label] <= listed_values(rows[label][0]), label
    for value in seen["device"] - inventory:
        if value not in listed_values(rows["device"][0]):
            assert ipaddress.ip_address(value), value


# -------------------------------------------------------------------- docs/report.md

REPORT = (REPO / "docs" / "report.md").read_text(encoding="utf-8")
SCHEMA_FILE = REPO / "monitor" / "data" / "report.schema.json"
_TYPE_WORDS = {
    "integer": "integer",
    "number": "number",
    "string": "string",
    "boolean": "boolean",
    "array": "list",
    "object": "object",
    "null": "null",
}


def schema_fields() -> dict[str, set[str]]:
    """Every field path the report schema names (``a.b``, ``a[].b``) -> its JSON types."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))

    def resolve(node: dict) -> dict:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        return node

    def branches(node: dict) -> list[dict]:
        node = resolve(node)
        return [resolve(b) for b in node["oneOf"]] if "oneOf" in node else [node]

    def types(node: dict) -> set[str]:
        kind = node.get("type")
        if kind is None and ("enum" in node or "const" in node):
            return {"string"}
        return {kind} if isinstance(kind, str) else set(kind or ())

    out: dict[str, set[str]] = {}

    def walk(node: dict, prefix: str) -> None:
        for name, sub in node.get("properties", {}).items():
            path = f"{prefix}{name}"
            out[path] = set().union(*(types(b) for b in branches(sub)))
            for branch in branches(sub):
                if "properties" in branch:
                    walk(branch, f"{path}.")
                elif "items" in branch and "properties" in resolve(branch["items"]):
                    walk(resolve(branch["items"]), f"{path}[].")

    walk(schema, "")
    return out


def report_field_rows() -> dict[str, list[str]]:
    return table_rows(section(REPORT, "The JSON report"))


def test_every_report_field_is_documented_and_no_other() -> None:
    documented, named = set(report_field_rows()), set(schema_fields())
    assert named - documented == set(), "in the schema, not in docs/report.md"
    assert documented - named == set(), "in docs/report.md, not in the schema"


def test_report_field_types_are_as_in_the_schema() -> None:
    rows = report_field_rows()
    for path, types in schema_fields().items():
        cell = rows[path][0]
        for kind in types:
            assert _TYPE_WORDS[kind] in cell, f"{path}: {kind} not in {cell!r}"


def test_verdicts_kinds_and_exit_statuses_are_documented() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert backticked(report_field_rows()["verdict"][0]) == set(
        schema["properties"]["verdict"]["enum"]
    )
    kinds = table_rows(section(REPORT, "Finding kinds"))
    assert list(kinds) == [k.value for k in FindingKind]
    from monitor.commands import replay_cmd

    statuses = section(REPORT, "Exit status")
    for status, word in ((replay_cmd.EXIT_CLEAN, "clean"), (replay_cmd.EXIT_FINDINGS, "findings"),
                         (replay_cmd.EXIT_UNREADABLE, "no_data")):  # fmt: skip
        assert f"| {status} | verdict `{word}`" in statuses


def test_flow_table_columns_are_documented_in_order() -> None:
    from monitor.report.flows_table import FLOW_DTYPES

    rows = table_rows(section(REPORT, "Flows table (`--flows`)"))
    assert list(rows) == list(FLOW_DTYPES)
    for name, dtype in FLOW_DTYPES.items():
        expected = dtype if isinstance(dtype, str) else "string"
        assert rows[name][0] == expected, name
    end_reasons = {r.value for r in EndReason}
    assert backticked(rows["end_reason"][1]) == end_reasons
    assert backticked(rows["verdict"][1]) == {v.value for v in Verdict}
