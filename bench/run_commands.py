"""How long each command takes to answer: start-up, the demo, and ndpiReader on the demo.

A command that reads no packet (``--version``, ``check-config``, ``catalog``, ``verify``)
should answer without loading numpy or the packet path; a replay of a small capture is
mostly interpreter start-up and imports; ``make demo`` adds the HTML report, the CSV
flows table, the evidence pcap and the OpenMetrics file. Each row runs ``--repeat`` times
in a fresh process, round-robin, and shows the median wall time (and the peer's, where
there is one: ndpiReader on the same uncompressed demo capture).

Usage: python bench/run_commands.py [--repeat 15] [--note TEXT]
Markdown on stdout; JSON in bench/results/commands-<hostname>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run_replay import PCAP_HEADER  # the capture with no packets

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEMO = ROOT / "pcaps" / "demo_day.pcap.gz"
SITE = ROOT / "pcaps" / "site.yaml"
EMPTY_ROW = "replay, no packets"  # exit 3: no data, as it should


def rows(work: Path) -> dict[str, list[str]]:
    """Name -> command line, for every row of the table."""
    cli = [sys.executable, "-m", "monitor"]
    demo = work / "demo.pcap"
    outputs = [
        "--report", str(work / "r.html"), "--flows", str(work / "f.csv"),
        "--evidence", str(work / "e.pcap"), "--metrics-out", str(work / "m.om"),
    ]  # fmt: skip
    table = {
        "cctv-monitor --version": [*cli, "--version"],
        "cctv-monitor check-config": [*cli, "check-config", str(SITE)],
        "cctv-monitor catalog": [*cli, "catalog"],
        "cctv-monitor verify": [*cli, "verify", str(work / "report.json")],
        EMPTY_ROW: [
            *cli,
            "replay",
            str(work / "empty.pcap"),
            "--json",
            "--no-input-hash",
        ],
        "replay demo --json": [*cli, "replay", str(demo), "--config", str(SITE), "--json"],
        "replay demo, make demo's outputs": [
            *cli,
            "replay",
            str(DEMO),
            "--config",
            str(SITE),
            *outputs,
        ],
    }
    if shutil.which("ndpiReader"):
        table["ndpiReader demo"] = ["ndpiReader", "-i", str(demo), "-q", "-w", "/dev/null"]
    return table


def prepare(work: Path) -> None:
    """The uncompressed demo, a capture with no packets, and a report for ``verify``."""
    (work / "demo.pcap").write_bytes(gzip.decompress(DEMO.read_bytes()))
    (work / "empty.pcap").write_bytes(PCAP_HEADER)
    report = subprocess.run(
        [sys.executable, "-m", "monitor", "replay", str(work / "demo.pcap"), "--json"],
        capture_output=True, check=False, cwd=ROOT,
    )  # fmt: skip
    (work / "report.json").write_bytes(report.stdout)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "monitor")], check=True)


def run(repeat: int) -> dict[str, float]:
    """Median wall seconds of each row."""
    with tempfile.TemporaryDirectory(prefix="cctv-commands-") as tmp:
        work = Path(tmp)
        prepare(work)
        table = rows(work)
        times: dict[str, list[float]] = {name: [] for name in table}
        for _ in range(repeat):
            for name, argv in table.items():
                start = time.perf_counter()
                done = subprocess.run(argv, capture_output=True, check=False, cwd=ROOT)
                times[name].append(time.perf_counter() - start)
                if done.returncode not in ((3,) if name == EMPTY_ROW else (0, 1)):
                    raise SystemExit(f"{name}: exit {done.returncode}: {done.stderr[-400:]!r}")
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--json", type=Path, help="results file (default bench/results/...)")
    ap.add_argument("--note", default="", help="a word on this run, kept in the results")
    args = ap.parse_args()
    medians = run(args.repeat)
    peer = medians.get("ndpiReader demo")
    print(f"| command (median of {args.repeat}) | wall | vs ndpiReader on the demo |")
    print("|---|---:|---:|")
    for name, seconds in medians.items():
        ratio = f"{seconds / peer:.1f}x" if peer and name.startswith("replay demo") else ""
        print(f"| {name} | {seconds * 1000:.0f} ms | {ratio} |")
    out = args.json or BENCH / "results" / f"commands-{socket.gethostname()}.json"
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "repeat": args.repeat,
        "note": args.note,
        "median_s": medians,
    }
    runs = json.loads(out.read_text()) if out.exists() else []
    out.write_text(json.dumps([record, *runs], indent=1) + "\n")


if __name__ == "__main__":
    main()
