"""A throw-away Prometheus over a replayed capture, for testing and rendering the dashboards.

Plain functions shared by ``tests/dashboards/test_queries_e2e.py`` and
``dashboards/render_previews.py``:

- :func:`replay_to_tsdb` replays a capture with ``--metrics-out`` and backfills the OpenMetrics
  into a fresh TSDB with ``promtool tsdb create-blocks-from openmetrics``;
- :func:`start_prometheus` runs a real ``prometheus`` on loopback over that TSDB (no scrape
  jobs, optionally the shipped rule files) and always stops it;
- :func:`backfill_rules` writes the recording rules' history over the capture with ``promtool
  tsdb create-blocks-from rules`` (Prometheus evaluates rules only at "now", so without it a
  panel that reads a recorded series has nothing over backfilled history);
- :func:`query_range` and :func:`api_get` ask its HTTP API;
- :func:`panel_targets` lists a dashboard's queries with the Grafana variables substituted.

Retention: Prometheus 2.x applies ``--storage.tsdb.retention.time`` relative to the newest
block's end, not to the wall clock (``tsdb.BeyondTimeRetention``), so a lone block of capture
history from months ago is kept even with the default 15 d. Rule and alert evaluation at
"now" can put samples into the head, though, and once such a head is compacted into a block
the capture's blocks would be months older than the newest one; ``retention.time=100y`` (the
maximum Prometheus accepts) rules that out.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO_PCAP = ROOT / "pcaps" / "demo_day.pcap.gz"
SITE_CONFIG = ROOT / "pcaps" / "site.yaml"
GRAFANA_DIR = ROOT / "dashboards" / "grafana"
RULES = ROOT / "dashboards" / "prometheus" / "rules.yml"
ALERTS = ROOT / "dashboards" / "prometheus" / "alerts.yml"
RETENTION = "100y"

_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class PrometheusError(RuntimeError):
    """Prometheus answered a query with an error (bad PromQL, unknown function, timeout)."""


@dataclass(frozen=True, slots=True)
class Backfill:
    """A capture replayed into a TSDB: where it is and the capture's time range (UNIX s)."""

    tsdb: Path
    openmetrics: Path
    report: dict[str, Any]
    first_ts: float
    last_ts: float


@dataclass(frozen=True, slots=True)
class PanelTarget:
    """One query of a dashboard panel, with the Grafana variables substituted in ``expr``."""

    dashboard: str
    panel_id: int
    title: str
    panel_type: str
    unit: str
    expr: str
    raw_expr: str
    legend: str
    instant: bool


# ------------------------------------------------------------------ tools


def tool(name: str) -> str | None:
    """Path of an executable on PATH (``prometheus``, ``promtool``), else None."""
    return shutil.which(name)


def _run(argv: Sequence[str], *, ok: Sequence[int] = (0,), timeout: float = 60.0) -> str:
    run = subprocess.run(
        list(argv), cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if run.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv)} exited {run.returncode}:\n{run.stderr[-2000:]}")
    return run.stdout


# ------------------------------------------------------------------ replay and backfill


def replay_to_tsdb(
    pcap: Path,
    config: Path,
    workdir: Path,
    *,
    interval: float = 15.0,
    promtool: str = "promtool",
    timeout: float = 60.0,
) -> Backfill:
    """Replay ``pcap`` with ``--metrics-out`` into ``workdir`` and backfill it into
    ``workdir/tsdb``. ``interval`` is the packet-time spacing of the samples; ``timeout``
    bounds each of the two commands."""
    workdir.mkdir(parents=True, exist_ok=True)
    om = workdir / "replay.om"
    tsdb = workdir / "tsdb"
    shutil.rmtree(tsdb, ignore_errors=True)
    out = _run(
        [
            sys.executable,
            "-m",
            "monitor",
            "replay",
            str(pcap),
            "--config",
            str(config),
            "--no-progress",
            "--json",
            "--metrics-out",
            str(om),
            "--metrics-interval",
            str(interval),
        ],
        ok=(0, 1),  # 1 = findings
        timeout=timeout,
    )
    report = json.loads(out)
    blocks = [promtool, "tsdb", "create-blocks-from", "openmetrics", str(om), str(tsdb)]
    _run(blocks, timeout=timeout)
    inputs = report["inputs"]
    return Backfill(
        tsdb=tsdb,
        openmetrics=om,
        report=report,
        first_ts=min(i["first_ts"] for i in inputs),
        last_ts=max(i["last_ts"] for i in inputs),
    )


def backfill_rules(
    url: str,
    rule_files: Sequence[Path],
    tsdb: Path,
    start: float,
    end: float,
    *,
    eval_interval: str = "15s",
    promtool: str = "promtool",
    timeout: float = 60.0,
) -> int:
    """Evaluate the recording rules over [start, end] against the Prometheus at ``url`` and
    move the resulting blocks into ``tsdb``; returns the number of blocks. A running
    Prometheus only sees them after a restart. Rules that read other recorded series get
    no history this way (promtool evaluates every rule against the data as it was).
    ``timeout`` bounds the promtool command."""
    with tempfile.TemporaryDirectory(prefix="rules-backfill-") as tmp:
        _run(
            [
                promtool,
                "tsdb",
                "create-blocks-from",
                "rules",
                "--quiet",
                f"--url={url}",
                f"--start={int(start)}",
                f"--end={int(end) + 1}",
                f"--eval-interval={eval_interval}",
                f"--output-dir={tmp}",
                *(str(p) for p in rule_files),
            ],
            timeout=timeout,
        )
        blocks = [p for p in Path(tmp).iterdir() if (p / "meta.json").exists()]
        for block in blocks:
            shutil.move(str(block), tsdb / block.name)
    return len(blocks)


# ------------------------------------------------------------------ a Prometheus server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1.0) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def start_prometheus(
    tsdb: Path,
    *,
    rule_files: Sequence[Path] = (),
    evaluation_interval: str = "1s",
    timeout: float = 30.0,
    prometheus: str = "prometheus",
) -> Iterator[str]:
    """Run ``prometheus`` on a free loopback port over ``tsdb`` (no scrape jobs; the given
    rule files evaluated every ``evaluation_interval``) and yield its base URL. It is
    terminated on exit, killed if it does not stop within 10 s."""
    with tempfile.TemporaryDirectory(prefix="promlab-") as tmp:
        config = Path(tmp) / "prometheus.yml"
        files = "".join(f"  - {json.dumps(str(p))}\n" for p in rule_files)
        config.write_text(
            f"global:\n  evaluation_interval: {evaluation_interval}\n"
            + (f"rule_files:\n{files}" if files else "")
            + "scrape_configs: []\n",
            encoding="utf-8",
        )
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = Path(tmp) / "prometheus.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tsdb}",
                    f"--storage.tsdb.retention.time={RETENTION}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            try:
                deadline = time.monotonic() + timeout
                while not _ready(url):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
                        state = "exited" if proc.poll() is not None else "not ready"
                        raise RuntimeError(f"prometheus {state} after start:\n{tail}")
                    time.sleep(0.1)
                yield url
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


# ------------------------------------------------------------------ HTTP API


def _call(url: str, path: str, params: Mapping[str, str], timeout: float) -> Any:
    body = urllib.parse.urlencode(params).encode()
    request = urllib.request.Request(f"{url}{path}", data=body if params else None)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            answer = json.load(resp)
    except urllib.error.HTTPError as err:  # 400/422/503 carry a JSON error body
        try:
            answer = json.load(err)
        except ValueError:
            raise PrometheusError(f"{path}: HTTP {err.code}") from err
    if answer.get("status") != "success":
        raise PrometheusError(f"{answer.get('errorType')}: {answer.get('error')}")
    return answer["data"]


def api_get(url: str, path: str, *, timeout: float = 10.0) -> Any:
    """``data`` of a successful answer to ``GET url+path`` (e.g. ``/api/v1/rules``)."""
    return _call(url, path, {}, timeout)


def query_range(
    url: str, expr: str, start: float, end: float, step: float = 15.0, *, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """The series (``metric``, ``values``) of a range query; PrometheusError on an error."""
    params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
    data = _call(url, "/api/v1/query_range", params, timeout)
    if data["resultType"] != "matrix":
        raise PrometheusError(f"range query gave {data['resultType']}: {expr}")
    return list(data["result"])


# ------------------------------------------------------------------ dashboards


def load_dashboard(name: str) -> dict[str, Any]:
    """A shipped dashboard by file stem, e.g. ``cctv-overview``."""
    board: dict[str, Any] = json.loads((GRAFANA_DIR / f"{name}.json").read_text("utf-8"))
    return board


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """Replace ``$name`` and ``${name}``; KeyError for a variable without a value."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise KeyError(f"no value for Grafana variable ${name} in {expr!r}")
        return variables[name]

    return _VARIABLE.sub(value, expr)


def panel_targets(dashboard: Mapping[str, Any], variables: Mapping[str, str]) -> list[PanelTarget]:
    """Every query of every panel (collapsed rows included), in dashboard order."""
    targets = []
    panels = [p for top in dashboard["panels"] for p in (top, *top.get("panels", []))]
    for panel in panels:
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
        for tgt in panel.get("targets", []):
            targets.append(
                PanelTarget(
                    dashboard=dashboard["uid"],
                    panel_id=panel["id"],
                    title=panel["title"],
                    panel_type=panel["type"],
                    unit=unit,
                    expr=substitute(tgt["expr"], variables),
                    raw_expr=tgt["expr"],
                    legend=tgt.get("legendFormat", ""),
                    instant=bool(tgt.get("instant")),
                )
            )
    return targets


def legend(template: str, labels: Mapping[str, str]) -> str:
    """A series name as Grafana's legend format gives it (``__auto``: the label set)."""
    if template and template != "__auto":
        return _LEGEND_LABEL.sub(lambda m: labels.get(m.group(1), ""), template).strip()
    shown = {k: v for k, v in labels.items() if k != "__name__"}
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(shown.items()))
    return f"{labels.get('__name__', '')}{{{inner}}}" if shown else labels.get("__name__", "value")
