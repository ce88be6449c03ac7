"""How long loading the vendor catalog takes: the shipped one at start-up, and a YAML file.

Each run is a fresh process that times, one after the other:

* ``import``: importing ``monitor.classify.catalog``;
* ``shipped``: the first ``load_catalog()``, i.e. the shipped catalog from its JSON twin
  (what every ``cctv-monitor`` command pays at start-up);
* ``yaml``: parsing ``monitor/data/catalog.yaml`` with PyYAML's libyaml loader (the pure
  Python one when PyYAML has no libyaml) and building the ``VendorCatalog``, with PyYAML
  already imported: what ``load_catalog(path)`` costs for a catalog file given by path.
  Target: under 50 ms.

Usage: python bench/catalog_load.py [--repeat 9]
Writes the medians to stdout and bench/results/catalog-<hostname>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import socket
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TARGET_YAML_S = 0.050
PARTS = ("import", "shipped", "yaml")
CHILD = """
import json, time
from pathlib import Path
import yaml
t0 = time.perf_counter()
from monitor.classify.catalog import VendorCatalog, load_catalog
t1 = time.perf_counter()
shipped = load_catalog()
t2 = time.perf_counter()
import monitor
raw = (Path(monitor.__file__).parent / "data" / "catalog.yaml").read_bytes()
loader = getattr(yaml, "CSafeLoader", None)
t3 = time.perf_counter()
parsed = VendorCatalog(yaml.load(raw, Loader=loader or yaml.SafeLoader))
t4 = time.perf_counter()
assert len(parsed.endpoints) == len(shipped.endpoints)
print(json.dumps({"import": t1 - t0, "shipped": t2 - t1, "yaml": t4 - t3,
                  "libyaml": loader is not None, "endpoints": len(shipped.endpoints)}))
"""


def run_once() -> dict[str, float]:
    """One fresh process; its timings in seconds."""
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="timed runs (>= 3)")
    args = parser.parse_args()
    run_once()  # imports compiled, files in the page cache
    runs = []
    for i in range(max(3, args.repeat)):
        runs.append(run_once())
        line = ", ".join(f"{p} {runs[-1][p] * 1000:.1f} ms" for p in PARTS)
        print(f"  run {i + 1}: {line}", file=sys.stderr)
    med = {p: statistics.median(r[p] for r in runs) for p in PARTS}
    libyaml = bool(runs[0]["libyaml"])
    summary = {
        "repeat": len(runs),
        "median_s": med,
        "min_s": {p: min(r[p] for r in runs) for p in PARTS},
        "libyaml": libyaml,
        "endpoints": runs[0]["endpoints"],
        "yaml_target_s": TARGET_YAML_S,
        "yaml_target_met": med["yaml"] < TARGET_YAML_S,
        "runs": runs,
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    verdict = "met" if summary["yaml_target_met"] else "NOT met"
    rows = {
        "import monitor.classify.catalog": med["import"],
        "load_catalog() (shipped, JSON)": med["shipped"],
        f"YAML parse + build ({'libyaml' if libyaml else 'pure Python'})": med["yaml"],
    }
    print(f"vendor catalog ({summary['endpoints']} endpoints), median of {len(runs)} processes:")
    for label, seconds in rows.items():
        print(f"  {label:<34}: {seconds * 1000:6.1f} ms")
    print(f"  YAML target < {TARGET_YAML_S * 1000:.0f} ms: {verdict}")
    out = BENCH / "results" / f"catalog-{socket.gethostname()}.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
