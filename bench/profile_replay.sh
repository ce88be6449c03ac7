#!/usr/bin/env bash
# Profile `cctv-monitor replay` with cProfile and print the top 25 functions by
# cumulative time. The profile is kept in bench/data/replay.prof for snakeviz,
# pstats or gprof2dot. The inputs are not hashed (--no-input-hash): SHA-256 costs
# more than the analysis and is not what is profiled here.
#
# The package is byte-compiled first: with PYTHONDONTWRITEBYTECODE set (as in some
# shells and CI) a module changed since its .pyc was written is compiled again on
# every run, which shows up as builtins.compile (0.08-0.1 s) and is no cost of an
# installed package.
#
# Usage: bench/profile_replay.sh [FILE] [N]   (defaults: bench/data/cctv-1m.pcap, 25)
set -euo pipefail
cd "$(dirname "$0")/.."

FILE="${1:-bench/data/cctv-1m.pcap}"
TOP="${2:-25}"
PROF=bench/data/replay.prof
PYTHON="${PYTHON:-python}"

if [[ ! -f "$FILE" ]]; then
    echo "$FILE not found: run python bench/make_capture.py first" >&2
    exit 1
fi
mkdir -p bench/data

"$PYTHON" -m compileall -q monitor >/dev/null
TIMEFORMAT="replay under cProfile: %R s wall (profiling slows it down)"
time "$PYTHON" -m cProfile -o "$PROF" -m monitor replay "$FILE" --json --no-input-hash >/dev/null
echo "profile in $PROF"

"$PYTHON" - "$PROF" "$TOP" <<'PY'
import pstats
import sys

stats = pstats.Stats(sys.argv[1])
stats.strip_dirs().sort_stats("cumulative").print_stats(int(sys.argv[2]))
PY
