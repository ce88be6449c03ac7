"""Every JSON report the suite can make cheaply is valid under the shipped JSON Schema.

``monitor/data/report.schema.json`` (draft 2020-12) is what users validate reports
against; docs/report.md explains it. Validated here: the replay of every sample capture
and of every real capture under 5 MB, the no-data case (exit 3), scans and spoofed
floods that make summary findings and the device ``other``, and the hand-built reports
of the unit tests. The schema's closed vocabularies are the code's, and it rejects what
a report must never be.
"""

from __future__ import annotations

import copy
import fnmatch
import io
import json
import textwrap
import tomllib
from contextlib import redirect_stdout
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from bench.make_flood import flood, write_pcap
from monitor.cli import main
from monitor.model import AuditResult, FindingKind
from monitor.report.json_report import SCHEMA, report_dict
from tests.requirements import require_shared
from tests.unit import report_samples

REPO = Path(__file__).resolve().parents[2]
PCAPS = REPO / "pcaps"
SAMPLES = sorted(p.name for p in PCAPS.iterdir() if ".pcap" in p.name)
SMALL = 5_000_000  # bytes: the real captures replayed here

Report = dict[str, Any]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    """The schema as the installed package ships it."""
    text = files("monitor").joinpath("data", "report.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def assert_valid(validator: jsonschema.Draft202012Validator, report: Report, what: str) -> None:
    """Valid under the schema, and every field it carries named there."""
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    detail = "\n".join(f"  {list(e.absolute_path)}: {e.message}" for e in errors[:10])
    assert not errors, f"{what}: {len(errors)} schema errors\n{detail}"
    unnamed = unnamed_fields(report, validator.schema)
    assert not unnamed, f"{what}: fields the schema (and docs/report.md) do not name: {unnamed}"


def unnamed_fields(report: Report, schema: dict[str, Any]) -> set[str]:
    """Paths of the report's fields the schema does not name (so docs/report.md cannot
    explain them); maps such as ``decode_errors`` may hold any key."""
    out: set[str] = set()

    def resolve(node: dict[str, Any], value: object) -> dict[str, Any]:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        if "oneOf" in node:
            fits = [b for b in node["oneOf"] if jsonschema.Draft202012Validator(
                {**b, "$defs": schema["$defs"]}).is_valid(value)]  # fmt: skip
            return resolve(fits[0], value) if fits else node
        return node

    def walk(value: object, node: dict[str, Any], path: str) -> None:
        node = resolve(node, value)
        if isinstance(value, dict) and "properties" in node:
            for key, sub in value.items():
                if key in node["properties"]:
                    walk(sub, node["properties"][key], f"{path}.{key}".lstrip("."))
                else:
                    out.add(f"{path}.{key}".lstrip("."))
        elif isinstance(value, list) and "items" in node:
            for item in value:
                walk(item, node["items"], f"{path}[]")

    walk(report, schema, "")
    return out


def replay_json(*args: str) -> tuple[int, Report]:
    """``cctv-monitor replay ARGS --json``, in process: (exit status, the report)."""
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["replay", *args, "--json", "--no-progress"])
    return status, json.loads(out.getvalue())


# ------------------------------------------------------------------ the schema itself


def test_the_schema_ships_with_the_package() -> None:
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = data["tool"]["setuptools"]["package-data"]["monitor"]
    assert any(fnmatch.fnmatch("data/report.schema.json", p) for p in patterns)


def test_closed_vocabularies_are_the_codes(validator: jsonschema.Draft202012Validator) -> None:
    schema = validator.schema
    assert schema["properties"]["schema"]["const"] == SCHEMA
    assert schema["$defs"]["kind"]["enum"] == [k.value for k in FindingKind]
    verdicts = {
        AuditResult("s", [], packets, 1, 0, [], findings, []).verdict
        for packets in (0, 1)
        for findings in ([], report_samples.every_finding())
    }
    assert set(schema["properties"]["verdict"]["enum"]) == verdicts
    assert len(schema["properties"]["verdict"]["enum"]) == len(verdicts)


@pytest.mark.parametrize(
    "path,value",
    [
        (["verdict"], "dirty"),
        (["findings", 0, "kind"], "exfiltration"),
        (["findings", 0, "peer_port"], "443"),
        (["findings", 0, "answered"], None),
        (["totals", "packets"], -1),
        (["inputs", 0, "truncated"], "no"),
        (["devices", 0, "bytes"], 1.5),
        (["summary", "findings_by_kind"], {"scan": 1}),
        (["schema"], "cctv-monitor/report/v2"),
    ],
)
def test_the_schema_rejects_a_wrong_value(
    validator: jsonschema.Draft202012Validator, path: list[Any], value: object
) -> None:
    report = report_dict(report_samples.findings_result())
    assert_valid(validator, report, "the sample")
    node = report
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert not validator.is_valid(report), path


@pytest.mark.parametrize(
    "path", [["coverage"], ["findings", 0, "evidence"], ["devices", 0, "ip"], ["inputs", 0]]
)
def test_the_schema_requires_the_stable_fields(
    validator: jsonschema.Draft202012Validator, path: list[Any]
) -> None:
    report = report_dict(report_samples.findings_result())
    node = report
    for key in path[:-1]:
        node = node[key]
    if isinstance(node, list):
        node[path[-1]] = {}
    else:
        del node[path[-1]]
    assert not validator.is_valid(report), path


def test_added_fields_are_allowed_and_a_summary_has_no_peer(
    validator: jsonschema.Draft202012Validator,
) -> None:
    report = report_dict(report_samples.findings_result())
    report["new_section"] = {"anything": [1, 2]}
    report["findings"][0]["new_field"] = "x"
    assert validator.is_valid(report), "additions are allowed by the schema"
    assert unnamed_fields(report, validator.schema) == {"new_section", "findings[].new_field"}
    del report["new_section"], report["findings"][0]["new_field"]
    summary = copy.deepcopy(report)
    summary["findings"][0].update(peers=3, ports=2, sample_peers=["203.0.113.5"])
    assert not validator.is_valid(summary), "a summary finding with a peer"
    summary["findings"][0]["peer"] = None
    assert_valid(validator, summary, "a summary finding")


# ------------------------------------------------------------------ reports to validate


def test_the_unit_tests_sample_reports(validator: jsonschema.Draft202012Validator) -> None:
    for make in (report_samples.clean_result, report_samples.findings_result):
        assert_valid(validator, report_dict(make()), make.__name__)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_capture(validator: jsonschema.Draft202012Validator, name: str) -> None:
    status, report = replay_json(str(PCAPS / name), "--config", str(PCAPS / "site.yaml"))
    assert status in (0, 1)
    assert_valid(validator, report, name)


@pytest.fixture(scope="module")
def real_reports() -> dict[str, tuple[int, Report]]:
    """The report of every real capture under 5 MB, replayed under the default policy."""
    folder = require_shared("pcaps-real")
    paths = [p for p in sorted(folder.glob("*.pcap*")) if p.stat().st_size < SMALL]
    return {p.name: replay_json(str(p)) for p in paths}


@pytest.mark.realpcaps
def test_every_small_real_capture(
    validator: jsonschema.Draft202012Validator, real_reports: dict[str, tuple[int, Report]]
) -> None:
    assert len(real_reports) >= 10
    for name, (status, report) in real_reports.items():
        assert status in (0, 1, 3), name
        assert_valid(validator, report, name)
    verdicts = {report["verdict"] for _, report in real_reports.values()}
    assert {"clean", "findings"} <= verdicts


@pytest.mark.parametrize("content", [b"", b"not a capture at all", None])
def test_no_data_exits_3_with_a_valid_report(
    validator: jsonschema.Draft202012Validator, tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "input.pcap"
    if content is not None:
        path.write_bytes(content)
    status, report = replay_json(str(path))
    assert status == 3
    assert report["verdict"] == "no_data" and report["inputs"][0]["errors"]
    assert_valid(validator, report, "no data")


def flood_capture(tmp_path: Path, sources: np.ndarray, packets: int = 4000) -> Path:
    path = tmp_path / "flood.pcap"
    frames = flood(packets, sources, np.random.default_rng(7))
    write_pcap(path, frames, 1_710_230_400.0, 10.0)
    return path


def tight_policy(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(
        textwrap.dedent("""\
            site: flood-test
            closed_networks: [10.20.0.0/16]
            limits: {devices: 8, findings_per_device: 4, findings_per_kind: 16}
            """),
        encoding="utf-8",
    )
    return path


def test_a_scan_gives_valid_summary_findings(
    validator: jsonschema.Draft202012Validator, tmp_path: Path
) -> None:
    sources = 0x0A140001 + np.arange(16, dtype=np.uint64)  # 16 cameras scanning
    policy = tight_policy(tmp_path)
    status, report = replay_json(str(flood_capture(tmp_path, sources)), "--config", str(policy))
    assert status == 1
    summaries = [f for f in report["findings"] if "peers" in f]
    assert summaries and all(f["peer"] is None and f["peers"] > 1 for f in summaries)
    assert report["coverage"]["devices_overflow"] == 16 - 8
    assert_valid(validator, report, "scan")


def test_a_spoofed_flood_gives_a_valid_report_with_other(
    validator: jsonschema.Draft202012Validator, tmp_path: Path
) -> None:
    sources = 0x0A140000 + np.arange(65536, dtype=np.uint64)
    policy = tight_policy(tmp_path)
    status, report = replay_json(str(flood_capture(tmp_path, sources)), "--config", str(policy))
    assert status == 1
    assert "other" in {d["ip"] for d in report["devices"]}
    assert report["coverage"]["devices_overflow"] > 3000
    assert_valid(validator, report, "spoofed flood")
