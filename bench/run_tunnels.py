"""Replay the 1M-packet bench capture plain and delivered inside mirror tunnels, side by side.

Target (issue: mirror tunnels): the bench capture inside VXLAN or ERSPAN replays within
15 % of the plain one. The tunnelled copies are made with ``tools/wrap_capture.py``
(the outer frame from a switch to the sensor, every frame wrapped) and kept next to the
plain file. Each run is ``taskset -c 0 cctv-monitor replay FILE --json`` in a fresh
process, round-robin over the files with all of them locked in the page cache; the report
gives medians, and ratios as medians of the per-round ratios (this VM drifts by ±20 %
over minutes, and pairing runs seconds apart cancels most of it). tcpdump reading each
file is printed beside it, the libpcap floor for the larger files.

Usage: python bench/run_tunnels.py [--file F] [--repeat 9] [--kinds vxlan,erspan2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import statistics
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from run_replay import (  # noqa: E402
    DEFAULT_FILE,
    command_for,
    packet_count,
    pinned_in_page_cache,
    run_once,
)

from tools.wrap_capture import KINDS, wrap_file  # noqa: E402


def tunnelled_copy(plain: Path, kind: str) -> Path:
    """``plain`` wrapped in ``kind``, made once (rebuilt when the plain file is newer)."""
    out = plain.with_name(f"{plain.stem}-{kind}.pcap")
    if not out.exists() or out.stat().st_mtime < plain.stat().st_mtime:
        print(f"writing {out} ...", file=sys.stderr, flush=True)
        wrap_file(str(plain), str(out), kind, session=42)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--kinds", default="vxlan,erspan2", help=f"subset of {','.join(KINDS)}")
    args = ap.parse_args(argv)
    if not args.file.exists():
        ap.error(f"{args.file} not found: run python bench/make_capture.py first")
    kinds = [k for k in args.kinds.split(",") if k]
    files = {"plain": args.file.resolve()}
    files.update({k: tunnelled_copy(args.file.resolve(), k) for k in kinds})
    packets = packet_count(files["plain"])
    times: dict[str, dict[str, list[float]]] = {n: {"cctv": [], "tcpdump": []} for n in files}
    with contextlib.ExitStack() as stack:
        for path in files.values():
            stack.enter_context(pinned_in_page_cache(path))
        for path in files.values():  # untimed warm-up
            run_once(command_for("cctv", path) or [], 3600)
        for i in range(args.repeat):
            for name, path in files.items():
                for tool in ("cctv", "tcpdump"):
                    cmd = command_for(tool, path)
                    if cmd is None:
                        continue
                    run, tail = run_once(cmd, 3600)
                    if run.returncode not in (0, 1):
                        raise SystemExit(f"{tool} on {path} failed: {tail}")
                    times[name][tool].append(run.seconds)
                print(f"[{i + 1}/{args.repeat}] {name}: {times[name]['cctv'][-1]:.2f} s",
                      file=sys.stderr, flush=True)  # fmt: skip
    plain = times["plain"]["cctv"]
    rows = []
    print(f"\n{packets:,} packets per file, {args.repeat} rounds, medians; ratio = median of")
    print("the per-round ratios to the plain file.\n")
    print("| delivered as | cctv-monitor s | packets/s | x plain | tcpdump s |")
    print("|---|---:|---:|---:|---:|")
    for name in files:
        cc = times[name]["cctv"]
        ratio = statistics.median(t / p for t, p in zip(cc, plain, strict=True))
        td = times[name]["tcpdump"]
        med = statistics.median(cc)
        tcpdump = f"{statistics.median(td):.2f}" if td else "-"
        print(f"| {name} | {med:.2f} | {packets / med / 1e6:.2f} M | {ratio:.2f} | {tcpdump} |")
        rows.append({"file": name, "cctv_s": cc, "tcpdump_s": td, "ratio_to_plain": ratio})
    out = BENCH / "results" / f"tunnels-{socket.gethostname()}.json"
    out.write_text(json.dumps({"packets": packets, "rows": rows}, indent=2) + "\n")
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
