"""What device discovery and fingerprinting cost: replay with them on, then off.

Each run is a fresh process that times ``run_replay`` (and the JSON report) on one capture
with ``PipelineSettings(fingerprint=True)`` or ``False``, round-robin so that drift hits
both alike, after one untimed run that puts the file in the page cache. "Off" skips the
discovery dissection (SADP, DHIP, WS-Discovery, SSDP, mDNS, XMEye, raw-Ethernet SADP), the
DHCP dissector, the banner/realm/User-Agent observations, the per-flow fact gathering and
the device summary; everything else is the same replay.

Usage: python bench/discovery_overhead.py [--file bench/data/cctv-1m.pcap] [--repeat 5]
                                          [--instructions]
Writes the medians to stdout and bench/results/discovery-<hostname>.json.

``--instructions`` also counts the instructions each mode executes, under valgrind's
callgrind: a count does not drift with the machine's load as wall time does (this VM's
speed drifts by +-20 %, twice the bound being measured). Each mode runs once on the
capture and once on a capture without packets; the difference is the replay's own
count, start-up and imports left out. It takes ~2 minutes per million packets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from run_replay import PCAP_HEADER  # the capture with no packets

BENCH = Path(__file__).resolve().parent
DEFAULT_FILE = BENCH / "data" / "cctv-1m.pcap"
CHILD = """
import json, sys, time
from monitor.classify.catalog import load_catalog
from monitor.config import default_policy
from monitor.pipeline import PipelineSettings
from monitor.replay import run_replay
from monitor.report.json_report import report_dict
catalog = load_catalog()
settings = PipelineSettings(fingerprint=sys.argv[2] == "on")
start, cpu = time.perf_counter(), time.process_time()
run = run_replay([sys.argv[1]], default_policy(), catalog, settings, hash_inputs=False)
replayed, replay_cpu = time.perf_counter(), time.process_time()
report = report_dict(run.result)
done = time.perf_counter()
known = sum(1 for d in run.result.devices if d.role or d.model)
print(json.dumps({"replay_s": replayed - start, "total_s": done - start,
                  "replay_cpu_s": replay_cpu - cpu,
                  "packets": run.result.packets, "devices": len(run.result.devices),
                  "identified": known, "findings": len(report["findings"])}))
"""


def run_once(path: Path, mode: str) -> dict[str, float]:
    """One fresh-process replay; its timings and counts."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def instructions(path: Path, mode: str) -> int:
    """Instructions the CHILD executes for ``path`` in ``mode``, counted by callgrind."""
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "callgrind.out"
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, "-c", CHILD, str(path), mode],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    for line in run.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1].strip())
    raise RuntimeError(f"no instruction count from callgrind:\n{run.stderr[-2000:]}")


def instruction_overhead(path: Path) -> dict[str, int | float]:
    """The replay's own instructions (``path`` minus a capture without packets) per mode."""
    with tempfile.NamedTemporaryFile(suffix=".pcap") as empty:
        empty.write(PCAP_HEADER)
        empty.flush()
        counts = {
            mode: instructions(path, mode) - instructions(Path(empty.name), mode)
            for mode in ("on", "off")
        }
    return {
        "on": counts["on"],
        "off": counts["off"],
        "overhead_percent": round((counts["on"] - counts["off"]) / counts["off"] * 100.0, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per mode (>= 3)")
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions (valgrind)"
    )
    args = parser.parse_args()
    if not args.file.exists():
        print(f"{args.file} is missing: run python bench/make_capture.py", file=sys.stderr)
        return 2
    if args.instructions and shutil.which("valgrind") is None:
        print("--instructions needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    run_once(args.file, "off")  # page cache, imports compiled
    runs: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
    for i in range(max(3, args.repeat)):
        for mode in ("on", "off") if i % 2 == 0 else ("off", "on"):
            runs[mode].append(run_once(args.file, mode))
            print(f"  run {i + 1} {mode:>3}: {runs[mode][-1]['replay_s']:.3f} s", file=sys.stderr)
    med = {m: statistics.median(r["replay_s"] for r in rs) for m, rs in runs.items()}
    tot = {m: statistics.median(r["total_s"] for r in rs) for m, rs in runs.items()}
    cpu = {m: statistics.median(r["replay_cpu_s"] for r in rs) for m, rs in runs.items()}
    overhead = (med["on"] - med["off"]) / med["off"] * 100.0
    cpu_overhead = (cpu["on"] - cpu["off"]) / cpu["off"] * 100.0
    # each round's on and off ran back to back: their difference drifts less with the load
    # of a shared machine than the difference of the two medians
    paired = statistics.median(
        (a["replay_s"] - b["replay_s"]) / b["replay_s"] * 100.0
        for a, b in zip(runs["on"], runs["off"], strict=True)
    )
    packets = runs["on"][0]["packets"]
    summary = {
        "file": str(args.file),
        "packets": packets,
        "repeat": len(runs["on"]),
        "replay_s_median": med,
        "replay_and_report_s_median": tot,
        "overhead_percent": round(overhead, 2),
        "paired_overhead_percent": round(paired, 2),
        "replay_cpu_s_median": cpu,
        "cpu_overhead_percent": round(cpu_overhead, 2),
        "packets_per_s": {m: round(packets / s) for m, s in med.items()},
        "instructions": instruction_overhead(args.file) if args.instructions else None,
        "devices": runs["on"][0]["devices"],
        "identified_devices": {m: rs[0]["identified"] for m, rs in runs.items()},
        "findings": {m: rs[0]["findings"] for m, rs in runs.items()},
        "runs": runs,
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    rate = summary["packets_per_s"]
    print(
        f"replay of {packets:,} packets, median of {summary['repeat']} runs each:\n"
        f"  fingerprinting on : {med['on']:.3f} s ({rate['on']:,} packets/s)\n"
        f"  fingerprinting off: {med['off']:.3f} s ({rate['off']:,} packets/s)\n"
        f"  overhead          : {overhead:+.1f} %  (with the JSON report: "
        f"{(tot['on'] - tot['off']) / tot['off'] * 100:+.1f} %)\n"
        f"  paired overhead   : {paired:+.1f} %  (median of the rounds' on/off differences)\n"
        f"  CPU time          : {cpu['on']:.3f} s vs {cpu['off']:.3f} s, {cpu_overhead:+.1f} %\n"
        f"  devices {summary['devices']}, identified (role or model) on/off: "
        f"{summary['identified_devices']['on']}/{summary['identified_devices']['off']}"
    )
    counted = summary["instructions"]
    if counted:
        print(
            f"  instructions      : {counted['on']:,} vs {counted['off']:,}, "
            f"{counted['overhead_percent']:+.1f} %  (callgrind, start-up left out)"
        )
    out = BENCH / "results" / f"discovery-{socket.gethostname()}.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
