#!/usr/bin/env bash
# Profile `cctv-monitor replay` with cProfile and print the top 25 functions by
# cumulative time. The profile is kept in bench/data/replay.prof for snakeviz,
# pstats or gprof2dot.
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

TIMEFORMAT="replay under cProfile: %R s wall (profiling slows it down)"
time "$PYTHON" -m cProfile -o "$PROF" -m monitor replay "$FILE" --json >/dev/null
echo "profile in $PROF"

"$PYTHON" - "$PROF" "$TOP" <<'PY'
import pstats
import sys

stats = pstats.Stats(sys.argv[1])
stats.strip_dirs().sort_stats("cumulative").print_stats(int(sys.argv[2]))
PY
