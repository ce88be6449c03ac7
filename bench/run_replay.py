"""Time ``cctv-monitor replay`` side by side with its peers on one capture file.

Peers, each run ``--repeat`` times in a fresh process, round-robin so that
drift (thermal, other load) hits every tool alike:

* ``cctv``: ``taskset -c 0 cctv-monitor replay FILE --json`` (one core; stdout to /dev/null)
* ``tcpdump``: ``tcpdump -r FILE -w /dev/null``, the libpcap floor: read every
  record and write it nowhere
* ``tshark``: ``tshark -r FILE -q -z conv,ip`` (full dissection + conversations)
* ``nfstream``: ``NFStreamer(source=FILE, statistical_analysis=False,
  n_dissections=0, n_meters=1)``, flows only, one meter (one core)
* ``cctv-jobs1``, ``cctv-jobs2``, ``cctv-dask``: the ``--jobs`` scaling table (no input
  hash, all cores); ``cctv-startup``: ``replay`` of a capture with no packets, the part of
  any run that no number of jobs shortens. With it and ``cctv-jobs1`` the table also
  prints the best that 2 jobs could do (Amdahl's law: start-up + the rest / 2).

Wall time is measured around each process; peak RSS is GNU time's ``%M``
(the largest resident set of the process and of the children it waited for;
install Debian's ``time`` package, else ``os.wait4`` is used, which cannot
report less than this script's own ~30 MiB). The report is the median over the runs, as a
Markdown table on stdout and JSON in ``bench/results/replay-<hostname>.json``.

Usage: python bench/run_replay.py [--file F] [--repeat 5] [--tools cctv,tcpdump,tshark,nfstream]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import json
import mmap
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DEFAULT_FILE = BENCH / "data" / "cctv-1m.pcap"
ALL_TOOLS = (
    "cctv", "cctv-nohash", "ndpi", "tcpdump", "tshark", "nfstream",
    "cctv-jobs1", "cctv-jobs2", "cctv-dask", "cctv-startup",
)  # fmt: skip
DEFAULT_TOOLS = ("cctv", "cctv-nohash", "ndpi", "tcpdump", "tshark", "nfstream")
SCALING_TOOLS = ("cctv-startup", "cctv-jobs1", "cctv-jobs2", "cctv-dask")  # all cores, no hash
DASK: dict[str, str] = {}  # "address" of the LocalCluster main() starts for cctv-dask
EMPTY: dict[str, str] = {}  # "path" of the capture with no packets main() writes
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262_144, 1)  # µs, Ethernet
LABELS = {
    "cctv": "cctv-monitor replay --json (one core)",
    "cctv-nohash": "cctv-monitor replay --json --no-input-hash (one core)",
    "ndpi": "ndpiReader -q -w /dev/null (nDPI, one core)",
    "cctv-jobs1": "cctv-monitor --no-input-hash --jobs 1 (all cores)",
    "cctv-jobs2": "cctv-monitor --no-input-hash --jobs 2 (all cores)",
    "cctv-dask": "cctv-monitor --no-input-hash --scheduler (LocalCluster 2x1)",
    "cctv-startup": "cctv-monitor replay of a capture with no packets (start-up)",
    "tcpdump": "tcpdump -r -w /dev/null (libpcap floor)",
    "tshark": "tshark -q -z conv,ip",
    "nfstream": "nfstream (n_meters=1, no stats/dissection)",
}
NFSTREAM_CODE = (
    "import sys\n"
    "from nfstream import NFStreamer\n"
    "s = NFStreamer(source=sys.argv[1], statistical_analysis=False, n_dissections=0, n_meters=1)\n"
    "print(sum(1 for _ in s))\n"
)


@dataclass
class Meta:
    """What was measured, where and when."""

    file: str
    file_bytes: int
    packets: int
    repeat: int
    host: str
    cores: int | None
    cpu: str
    python: str
    date: str


@dataclass
class Run:
    """One timed execution."""

    seconds: float
    peak_rss_mib: float
    returncode: int


@dataclass
class ToolResult:
    """All runs of one tool and the derived figures."""

    tool: str
    label: str
    command: list[str]
    version: str
    runs: list[Run] = field(default_factory=list)
    status: str = "ok"
    error: str = ""
    median_s: float | None = None
    packets_per_s: float | None = None
    x_floor: float | None = None
    cctv_speedup: float | None = None
    peak_rss_mib: float | None = None
    # replay exits 1 when it has findings (the contract), which the bench file does
    ok_codes: tuple[int, ...] = (0,)


def cctv_executable() -> str | None:
    """The ``cctv-monitor`` console script next to this Python (avoids pyenv shims)."""
    local = Path(sys.executable).parent / "cctv-monitor"
    if local.exists():
        return str(local)
    return shutil.which("cctv-monitor")


def command_for(tool: str, path: Path) -> list[str] | None:
    """The command line of a tool, or None if it is not installed."""
    f = str(path)
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    if tool.startswith("cctv"):
        exe = cctv_executable()
        if not exe:
            return None
        base = [exe, "replay", f, "--json"]
        if tool == "cctv":  # pinned to one CPU: the one-core figure the target names
            return [*pin, *base]
        if tool == "cctv-nohash":
            return [*pin, *base, "--no-input-hash"]
        if tool in ("cctv-jobs1", "cctv-jobs2"):
            return [*base, "--no-input-hash", "--jobs", tool[-1]]
        if tool == "cctv-startup":
            return [exe, "replay", EMPTY["path"], "--json", "--no-input-hash"]
        if tool == "cctv-dask":
            address = DASK.get("address") or None
            return [*base, "--no-input-hash", "--scheduler", address] if address else None
    if tool == "ndpi":
        exe = shutil.which("ndpiReader")
        return [*pin, exe, "-i", f, "-q", "-w", "/dev/null"] if exe else None
    if tool == "tcpdump":
        return ["tcpdump", "-r", f, "-w", "/dev/null"] if shutil.which("tcpdump") else None
    if tool == "tshark":
        return ["tshark", "-r", f, "-q", "-z", "conv,ip"] if shutil.which("tshark") else None
    if tool == "nfstream":
        return [sys.executable, "-c", NFSTREAM_CODE, f]
    raise ValueError(tool)


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def version_of(tool: str) -> str:
    """A one-line version string for the report."""
    if tool == "tcpdump":
        return _first_line(["tcpdump", "--version"])
    if tool == "tshark":
        return _first_line(["tshark", "--version"])
    if tool == "ndpi":
        return "libndpi-bin " + _first_line(["dpkg-query", "-W", "-f", "${Version}", "libndpi-bin"])
    if tool == "nfstream":
        return "nfstream " + _first_line(
            [sys.executable, "-c", "import nfstream; print(nfstream.__version__)"]
        )
    code = "import monitor; print(monitor.__version__)"
    return "cctv-monitor " + _first_line([sys.executable, "-c", code])


GNU_TIME = "/usr/bin/time"
# An installed tool has its bytecode cached; a shell that forbids writing it (some
# sandboxes set this) would make every Python run compile the project afresh.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_once(argv: list[str], timeout_s: float) -> tuple[Run, str]:
    """Run ``argv`` with stdout to /dev/null; returns the run and the tail of stderr.

    Peak RSS comes from GNU time (``%M``) when installed. ``os.wait4`` is the
    fallback, but a child forked from this Python process inherits its peak RSS
    as a floor (the kernel carries the pre-exec high-water mark over), so small
    tools then read as large as this script.
    """
    use_time = os.access(GNU_TIME, os.X_OK)
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss_file:
        full = [GNU_TIME, "-f", "%M", "-o", rss_file.name, "--", *argv] if use_time else argv
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(
                full,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=CHILD_ENV,
                start_new_session=True,  # its own process group, so a timeout ends all of it
            )
        except OSError as exc:
            return Run(0.0, 0.0, 127), str(exc)

        def stop() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout_s, stop)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped
        err.seek(0)
        tail = err.read()[-4000:].decode(errors="replace")
        rss_kib = float(usage.ru_maxrss)  # Linux: KiB
        if use_time:
            lines = rss_file.read().split()
            if lines and lines[-1].isdigit():
                rss_kib = float(lines[-1])
    return Run(round(seconds, 4), round(rss_kib / 1024, 1), proc.returncode), tail


def packet_count(path: Path) -> int:
    """Packets in the file: the generator's sidecar if current, else ``capinfos -c -M``."""
    sidecar = Path(str(path) + ".count")
    if sidecar.exists() and sidecar.stat().st_mtime >= path.stat().st_mtime:
        return int(sidecar.read_text().split()[0])
    out = subprocess.run(
        ["capinfos", "-c", "-M", str(path)], capture_output=True, text=True, check=True
    )
    m = re.search(r"Number of packets:\s+(\d+)", out.stdout)
    if not m:
        raise RuntimeError(f"capinfos gave no packet count: {out.stdout!r}")
    return int(m.group(1))


def warm_cache(path: Path) -> None:
    """Read the file once so that a tool starts from the page cache (done before every
    timed run when the file could not be locked there: see pinned_in_page_cache)."""
    with path.open("rb") as f:
        while f.read(1 << 24):
            pass


@contextlib.contextmanager
def pinned_in_page_cache(path: Path) -> Iterator[bool]:
    """Lock the file's pages in memory for the whole benchmark (True when it worked).

    The build VM pages out page cache that was idle for ~30 s (DAMON), so a tool timed
    after a long one read part of the file from disk: up to ±40 % noise on the fast
    tools. Locked pages stay, and every tool reads from memory. Needs CAP_IPC_LOCK
    (root) or a large RLIMIT_MEMLOCK; without it, the file is re-read before each run.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]  # fmt: skip
    libc.mlock.argtypes = libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    size = path.stat().st_size
    with path.open("rb") as f:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, f.fileno(), 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        yield False
        return
    try:
        yield libc.mlock(addr, size) == 0  # munmap below also unlocks
    finally:
        libc.munmap(addr, size)


@contextlib.contextmanager
def local_cluster() -> Iterator[str]:
    """A Dask LocalCluster of two one-thread worker processes (``[distributed]``); its
    scheduler address. Workers stay up between runs, as on a real cluster."""
    try:
        from distributed import LocalCluster
    except ImportError:
        print("cctv-dask: distributed is not installed", file=sys.stderr)
        yield ""
        return
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or platform)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def summarise(results: list[ToolResult], packets: int) -> None:
    """Fill medians, rates and ratios."""
    for r in results:
        ok = [run for run in r.runs if run.returncode in r.ok_codes]
        if r.status == "ok" and ok:
            r.median_s = round(statistics.median(run.seconds for run in ok), 4)
            counted = r.median_s > 0 and r.tool != "cctv-startup"  # it reads no packet
            r.packets_per_s = round(packets / r.median_s) if counted else None
            r.peak_rss_mib = max(run.peak_rss_mib for run in ok)
    by_tool = {r.tool: r for r in results}
    floor = by_tool.get("tcpdump")
    cctv = by_tool.get("cctv")
    for r in results:
        if r.median_s is None:
            continue
        if floor and floor.median_s:
            r.x_floor = _paired_ratio(r, floor)
        if cctv and cctv.median_s:
            r.cctv_speedup = _paired_ratio(r, cctv)


def _paired_ratio(tool: ToolResult, base: ToolResult) -> float:
    """Median over rounds of tool time / base time, both from the same round.

    The build VM's speed drifts by ±20 % over minutes (host load); within one round the
    tools run seconds apart, so pairing cancels most of the drift that a ratio of the
    two medians would keep. Falls back to the ratio of medians without pairs.
    """
    pairs = [
        a.seconds / b.seconds
        for a, b in zip(tool.runs, base.runs, strict=False)
        if a.returncode in tool.ok_codes and b.returncode in base.ok_codes and b.seconds > 0
    ]
    if pairs:
        return round(statistics.median(pairs), 2)
    assert tool.median_s is not None and base.median_s
    return round(tool.median_s / base.median_s, 2)


def _fmt_rate(pps: float | None) -> str:
    if pps is None:
        return "-"
    return f"{pps / 1e6:.2f} M" if pps >= 1e6 else f"{pps / 1e3:.0f} k"


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def markdown(results: list[ToolResult], meta: Meta) -> str:
    """The result table with a header line describing the run."""
    lines = [
        f"File `{meta.file}`: {meta.packets:,} packets, {meta.file_bytes / 2**20:,.0f} MiB; "
        f"median of {meta.repeat} runs; {meta.host} ({meta.cores} cores, {meta.cpu}), "
        f"{meta.date}. Ratios are medians of per-round ratios (tools timed seconds apart).",
        "",
        "| tool | median s | packets/s | × tcpdump floor | cctv-monitor speed-up | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.median_s is None:
            lines.append(f"| {r.label} | {r.status} | - | - | - | - |")
            continue
        lines.append(
            f"| {r.label} | {r.median_s:.2f} | {_fmt_rate(r.packets_per_s)} | "
            f"{_fmt(r.x_floor, '.1f')} | {_fmt(r.cctv_speedup, '.1f', '×')} | "
            f"{_fmt(r.peak_rss_mib, '.0f')} |"
        )
    lines.extend(amdahl_lines(results))
    for r in results:
        if r.status != "ok":
            last = r.error.strip().splitlines()[-1] if r.error.strip() else ""
            lines.append(f"\n{r.label}: {r.status}" + (f": {last}" if last else ""))
    return "\n".join(lines)


def amdahl_bound(startup_s: float, one_job_s: float, jobs: int) -> float:
    """The shortest time ``jobs`` jobs can take when the start-up does not shrink and the
    rest splits perfectly (Amdahl's law)."""
    return startup_s + max(one_job_s - startup_s, 0.0) / jobs


def amdahl_lines(results: list[ToolResult]) -> list[str]:
    """A note under the table: the best ``--jobs 2`` could do, from the measured start-up."""
    by_tool = {r.tool: r for r in results}
    startup, one = by_tool.get("cctv-startup"), by_tool.get("cctv-jobs1")
    if not (startup and one and startup.median_s and one.median_s):
        return []
    best = amdahl_bound(startup.median_s, one.median_s, 2)
    return [
        "",
        f"Start-up {startup.median_s:.2f} s of the {one.median_s:.2f} s of `--jobs 1`: 2 jobs "
        f"take at best {best:.2f} s, {one.median_s / best:.2f}x `--jobs 1` (start-up + the "
        "rest split with no cost).",
    ]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE, help="capture to replay")
    ap.add_argument("--repeat", type=int, default=5, help="runs per tool (median reported)")
    ap.add_argument(
        "--tools",
        default=",".join(DEFAULT_TOOLS),
        help=f"comma-separated subset of {','.join(ALL_TOOLS)} (default: "
        f"{','.join(DEFAULT_TOOLS)}; the --jobs scaling table: {','.join(SCALING_TOOLS)})",
    )
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    ap.add_argument(
        "--json",
        type=Path,
        default=None,
        help="result file (default bench/results/replay-<hostname>.json)",
    )
    args = ap.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(ALL_TOOLS))
    if unknown:
        ap.error(f"unknown tools: {', '.join(unknown)}")
    if not args.file.exists():
        ap.error(f"{args.file} not found: run python bench/make_capture.py first")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    # With PYTHONDONTWRITEBYTECODE set, a module newer than its .pyc is compiled again on
    # every run (0.08-0.1 s of a 0.8 s replay), which an installed package never pays.
    package = Path(__file__).resolve().parents[1] / "monitor"
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(package)],
        check=False,
        stdout=subprocess.DEVNULL,
    )

    path = args.file.resolve()
    packets = packet_count(path)
    host = socket.gethostname()
    meta = Meta(
        file=str(args.file),
        file_bytes=path.stat().st_size,
        packets=packets,
        repeat=args.repeat,
        host=host,
        cores=os.cpu_count(),
        cpu=cpu_model(),
        python=platform.python_version(),
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    stack = contextlib.ExitStack()
    if "cctv-startup" in tools:
        empty = stack.enter_context(tempfile.TemporaryDirectory(prefix="cctv-bench-"))
        EMPTY["path"] = str(Path(empty) / "no-packets.pcap")
        Path(EMPTY["path"]).write_bytes(PCAP_HEADER)
    if "cctv-dask" in tools:
        DASK["address"] = stack.enter_context(local_cluster())
    results: list[ToolResult] = []
    for tool in tools:
        cmd = command_for(tool, path)
        res = ToolResult(tool, LABELS[tool], cmd or [], version_of(tool) if cmd else "")
        if tool.startswith("cctv"):
            res.ok_codes = (0, 1, 3) if tool == "cctv-startup" else (0, 1)  # 3: no data
        if cmd is None:
            res.status, res.error = "missing", f"{tool} not installed"
        results.append(res)

    pinned = stack.enter_context(pinned_in_page_cache(path))
    print(f"file {'locked in' if pinned else 'not lockable in'} the page cache", file=sys.stderr)
    warm_cache(path)
    for res in results:  # one untimed run each: bytecode caches written, binaries paged in
        if res.status == "ok":
            run_once(res.command, args.timeout)
    for i in range(args.repeat):
        for res in results:
            if res.status != "ok":
                continue
            print(f"[{i + 1}/{args.repeat}] {res.tool} ...", end=" ", file=sys.stderr, flush=True)
            if not pinned:
                warm_cache(path)  # the kernel may have dropped idle pages meanwhile
            run, tail = run_once(res.command, args.timeout)
            res.runs.append(run)
            print(f"{run.seconds:.2f} s, {run.peak_rss_mib:.0f} MiB", file=sys.stderr, flush=True)
            if run.returncode not in res.ok_codes:
                res.status = f"failed (rc={run.returncode})"
                res.error = tail.strip()
                print(f"    {res.tool} failed: {res.error[-300:]}", file=sys.stderr)

    stack.close()
    summarise(results, packets)
    print(markdown(results, meta))
    out = args.json or BENCH / "results" / f"replay-{host}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {**asdict(meta), "results": [asdict(r) for r in results]}
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
