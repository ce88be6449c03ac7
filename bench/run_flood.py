"""Replay the two flood captures side by side with ndpiReader and tcpdump.

The flows-at-scale benchmark (bench/make_flood.py writes ``flood-scan.pcap`` and
``flood-spoof.pcap``: 1,000,000 TCP SYNs over 100 s, every SYN a new flow). Per file and
round, each tool runs in a fresh process, round-robin, the files locked in the page cache:

* ``cctv``: ``taskset -c 0 cctv-monitor replay FILE --json`` (one core; stdout kept to
  measure the report's size),
* ``ndpiReader``: ``ndpiReader -i FILE -q -w /dev/null`` (Debian ``libndpi-bin``), the
  peer to beat (target: cctv-monitor 5x faster),
* ``tcpdump``: ``tcpdump -r FILE -w /dev/null``, the libpcap floor.

Medians of wall time and peak RSS (GNU time), the speed-up as the median of per-round
ratios, and the JSON report's size. Markdown on stdout, JSON in
``bench/results/flood-<hostname>.json``.

Usage: python bench/run_flood.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run_replay import cctv_executable, pinned_in_page_cache, run_once  # noqa: E402

FILES = ("flood-scan.pcap", "flood-spoof.pcap")


def commands(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    exe = cctv_executable()
    if exe:
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        out["cctv"] = [*pin, exe, "replay", str(path), "--json", "--no-progress"]
    if shutil.which("ndpiReader"):
        out["ndpiReader"] = ["ndpiReader", "-i", str(path), "-q", "-w", "/dev/null"]
    if shutil.which("tcpdump"):
        out["tcpdump"] = ["tcpdump", "-r", str(path), "-w", "/dev/null"]
    return out


def report_bytes(argv: list[str]) -> int:
    done = subprocess.run(argv, capture_output=True, check=False)
    return len(done.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data", type=Path, default=BENCH / "data")
    args = ap.parse_args(argv)
    paths = [args.data / name for name in FILES]
    missing = [p for p in paths if not p.exists()]
    if missing:
        ap.error(f"{missing[0]} not found: run python bench/make_flood.py first")
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    with contextlib.ExitStack() as stack:
        for path in paths:
            stack.enter_context(pinned_in_page_cache(path))
        for path in paths:
            cmds = commands(path)
            runs = results[path.name] = {tool: {"s": [], "mib": []} for tool in cmds}
            for argv_ in cmds.values():  # untimed warm-up
                run_once(argv_, 3600)
            for i in range(args.repeat):
                for tool, argv_ in cmds.items():
                    run, tail = run_once(argv_, 3600)
                    if run.returncode not in (0, 1):
                        raise SystemExit(f"{tool} failed on {path.name}: {tail}")
                    runs[tool]["s"].append(run.seconds)
                    runs[tool]["mib"].append(run.peak_rss_mib)
                    print(f"[{i + 1}/{args.repeat}] {path.name} {tool}: {run.seconds:.2f} s",
                          file=sys.stderr, flush=True)  # fmt: skip
            if "cctv" in cmds:
                runs["cctv"]["report_bytes"] = [float(report_bytes(cmds["cctv"]))]
    print(f"\n{args.repeat} rounds, medians; load average {os.getloadavg()[0]:.2f} at the end.\n")
    print("| capture | tool | median s | peak RSS MiB | cctv-monitor faster by | JSON report |")
    print("|---|---|---:|---:|---:|---:|")
    for name, runs in results.items():
        cctv = runs.get("cctv", {}).get("s", [])
        for tool, data in runs.items():
            ratio = "-"
            if cctv and tool != "cctv":
                ratio = (
                    f"{statistics.median(t / c for t, c in zip(data['s'], cctv, strict=True)):.1f}x"
                )
            size = data.get("report_bytes")
            size_text = f"{size[0] / 1e6:.1f} MB" if size else "-"
            print(f"| {name} | {tool} | {statistics.median(data['s']):.2f} | "
                  f"{statistics.median(data['mib']):.0f} | {ratio} | {size_text} |")  # fmt: skip
    out = BENCH / "results" / f"flood-{socket.gethostname()}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
