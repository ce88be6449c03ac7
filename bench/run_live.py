"""How many packets per second can ``cctv-monitor live`` take from an interface without losing any?

tcpreplay sends ``bench/data/cctv-1m.pcap`` into one end of a veth pair at rising rates;
the sensor captures on the other end. Both ends live in two network namespaces this
script creates and deletes (the pair is created inside them, so nothing ever reaches a
real interface). Per rate it runs, one after the other:

* ``cctv-w1``: ``cctv-monitor live`` with one capture process,
* ``cctv-w2``: the same with ``--workers 2`` (kernel fanout),
* ``tcpdump``: ``tcpdump -B 65536 -w /dev/null``, the libpcap reference with the same
  64 MiB buffer,

and reports what tcpreplay achieved, what the reader counted, what libpcap says was
dropped (kernel buffer, interface) and what was never seen at all (sent minus counted
minus dropped). Markdown table on stdout, JSON in ``bench/results/live-<hostname>.json``.

Usage (root): python bench/run_live.py [--rates 50000,100000,200000,300000,top] [--limit N]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEFAULT_FILE = BENCH / "data" / "cctv-1m.pcap"
FETCH = (
    "import sys, urllib.request\n"
    "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())\n"
)
PORT = 9108


@dataclass
class Cell:
    """One reader at one rate."""

    rate: str
    reader: str
    achieved_pps: float
    sent: int
    counted: int
    kernel_drops: int
    interface_drops: int
    never_seen: int
    reader_cpu_s: float | None = None

    @property
    def loss_pct(self) -> float:
        lost = self.kernel_drops + self.interface_drops + self.never_seen
        return 100.0 * lost / self.sent if self.sent else 0.0


def sh(cmd: list[str], timeout: float = 60.0) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True).stdout


@dataclass
class Segment:
    src_ns: str
    sen_ns: str
    src_if: str
    sen_if: str

    def ns(self, ns: str, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", ns, *cmd]


@contextlib.contextmanager
def segment() -> Iterator[Segment]:
    """Two namespaces joined by a veth pair, IPv6 off (so only tcpreplay transmits)."""
    tag = f"{os.getpid() % 100000}"
    seg = Segment(f"cctvb-{tag}-src", f"cctvb-{tag}-sen", f"cb{tag}a", f"cb{tag}b")
    try:
        for ns in (seg.src_ns, seg.sen_ns):
            sh(["ip", "netns", "add", ns])
            sh(seg.ns(ns, "sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"))
            sh(seg.ns(ns, "ip", "link", "set", "lo", "up"))
        peer = ("peer", "name", seg.sen_if, "netns", seg.sen_ns)
        sh(["ip", "link", "add", seg.src_if, "netns", seg.src_ns, "type", "veth", *peer])
        for ns, ifname in ((seg.src_ns, seg.src_if), (seg.sen_ns, seg.sen_if)):
            sh(seg.ns(ns, "sysctl", "-q", "-w", f"net.ipv6.conf.{ifname}.disable_ipv6=1"))
            sh(seg.ns(ns, "ip", "link", "set", ifname, "up"))
        yield seg
    finally:
        for ns in (seg.src_ns, seg.sen_ns):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def scrape(seg: Segment) -> dict[str, float]:
    """Totals per metric name of the sensor's /metrics (labels summed)."""
    url = f"http://127.0.0.1:{PORT}/metrics"
    done = subprocess.run(
        seg.ns(seg.sen_ns, sys.executable, "-c", FETCH, url),
        capture_output=True,
        text=True,
        timeout=20,
    )
    out: dict[str, float] = {}
    for line in done.stdout.splitlines():
        if line.startswith("cctv_capture"):
            name = line.split("{", 1)[0]
            where = re.search(r'where="(\w+)"', line)
            key = f"{name}:{where.group(1)}" if where else name
            out[key] = out.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def cpu_seconds(pid: int) -> float:
    """User+system CPU of a process and its waited-for and live children."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for p in [pid, *_children(pid)]:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / tick
    return total


def _children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = [int(k) for k in kids]
    for k in list(found):
        found += _children(k)
    return found


def replay(seg: Segment, pcap: Path, rate: str, limit: int | None) -> tuple[int, float]:
    """Send the capture; (packets sent, achieved packets/s)."""
    speed = ["--topspeed"] if rate == "top" else [f"--pps={rate}"]
    extra = [f"--limit={limit}"] if limit else []
    cmd = ["tcpreplay", f"--intf1={seg.src_if}", *speed, *extra, str(pcap)]
    out = sh(seg.ns(seg.src_ns, *cmd), timeout=3600)
    sent = int(re.search(r"Successful packets:\s+(\d+)", out).group(1))  # type: ignore[union-attr]
    pps = float(re.search(r"([\d.]+) pps", out).group(1))  # type: ignore[union-attr]
    return sent, pps


def run_cctv(seg: Segment, pcap: Path, rate: str, workers: int, limit: int | None) -> Cell:
    cmd = [sys.executable, "-m", "monitor", "live", "--interface", seg.sen_if]
    cmd += ["--listen", f"127.0.0.1:{PORT}", "--workers", str(workers)]
    proc = subprocess.Popen(seg.ns(seg.sen_ns, *cmd), cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: scrape(seg).get("cctv_capture_up") == 1, 60, "sensor capture up")
        cpu0 = cpu_seconds(proc.pid)
        sent, pps = replay(seg, pcap, rate, limit)
        counted = _settled(lambda: int(scrape(seg).get("cctv_capture_packets_total", 0)), sent)
        m = scrape(seg)
        cpu = cpu_seconds(proc.pid) - cpu0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    kernel = int(m.get("cctv_capture_dropped_packets_total:kernel", 0))
    iface = int(m.get("cctv_capture_dropped_packets_total:interface", 0))
    never = max(sent - counted - kernel - iface, 0)
    return Cell(rate, f"cctv-w{workers}", pps, sent, counted, kernel, iface, never, cpu)


def run_drain(seg: Segment, pcap: Path, packets: int) -> dict[str, float]:
    """The sensor's own ceiling, without the sender competing for the CPU.

    The sensor (one worker, a buffer big enough for ``packets``) is stopped with
    SIGSTOP while tcpreplay fills its kernel buffer, then continued; its CPU time until
    it has counted every packet gives packets per CPU-second.
    """
    mib = max(256, packets * 1700 >> 20)
    cmd = [sys.executable, "-m", "monitor", "live", "--interface", seg.sen_if]
    cmd += ["--listen", f"127.0.0.1:{PORT}", "--buffer-mib", str(mib)]
    proc = subprocess.Popen(seg.ns(seg.sen_ns, *cmd), cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: scrape(seg).get("cctv_capture_up") == 1, 120, "sensor capture up")
        os.kill(proc.pid, signal.SIGSTOP)
        sent, _ = replay(seg, pcap, "top", packets)
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        os.kill(proc.pid, signal.SIGCONT)
        counted = _settled(lambda: int(scrape(seg).get("cctv_capture_packets_total", 0)), sent)
        wall, cpu = time.monotonic() - t0, cpu_seconds(proc.pid) - cpu0
        dropped = int(scrape(seg).get("cctv_capture_dropped_packets_total:kernel", 0))
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {
        "sent": sent,
        "counted": counted,
        "kernel_drops": dropped,
        "cpu_s": round(cpu, 3),
        "wall_s_upper_bound": round(wall, 3),
        "packets_per_cpu_s": round(counted / cpu) if cpu else 0,
    }


def run_tcpdump(seg: Segment, pcap: Path, rate: str, limit: int | None) -> Cell:
    cmd = ["tcpdump", "-i", seg.sen_if, "-B", "65536", "-n", "-w", "/dev/null"]
    proc = subprocess.Popen(
        seg.ns(seg.sen_ns, *cmd), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stderr is not None
        while "listening on" not in proc.stderr.readline():
            pass
        cpu0 = cpu_seconds(proc.pid)
        sent, pps = replay(seg, pcap, rate, limit)
        time.sleep(2)
        cpu = cpu_seconds(proc.pid) - cpu0
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    captured = int(re.search(r"(\d+) packets? captured", err).group(1))  # type: ignore[union-attr]
    kernel = int(re.search(r"(\d+) packets? dropped by kernel", err).group(1))  # type: ignore[union-attr]
    ifdrop = re.search(r"(\d+) packets? dropped by interface", err)
    iface = int(ifdrop.group(1)) if ifdrop else 0
    never = max(sent - captured - kernel - iface, 0)
    return Cell(rate, "tcpdump", pps, sent, captured, kernel, iface, never, cpu)


def _wait(probe, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if probe():
                return
        time.sleep(0.3)
    raise RuntimeError(f"timed out waiting for {what}")


def _settled(count, sent: int, timeout: float = 180.0) -> int:  # type: ignore[no-untyped-def]
    """The reader's count once it reached ``sent`` or stopped moving for 3 s."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = count()
        if now >= sent:
            return now
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > 3.0:
            return now
        time.sleep(0.5)
    return last


def table(cells: list[Cell]) -> str:
    head = (
        "| rate asked | reader | tcpreplay pps | sent | counted | kernel drops | "
        "interface drops | never seen | loss % | reader CPU s |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    rows = [
        f"| {c.rate} | {c.reader} | {c.achieved_pps:,.0f} | {c.sent:,} | {c.counted:,} | "
        f"{c.kernel_drops:,} | {c.interface_drops:,} | {c.never_seen:,} | {c.loss_pct:.3f} | "
        f"{c.reader_cpu_s or 0:.1f} |"
        for c in cells
    ]
    return head + "\n".join(rows) + "\n"


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE)
    ap.add_argument("--rates", default="50000,100000,200000,300000,top")
    ap.add_argument("--readers", default="cctv-w1,cctv-w2,tcpdump")
    ap.add_argument("--limit", type=int, default=None, help="send only the first N packets")
    ap.add_argument("--drain", type=int, default=400_000, help="drain test packets (0: skip)")
    ap.add_argument("--json", type=Path, default=None)
    return ap.parse_args()


def measure(seg: Segment, args: argparse.Namespace) -> list[Cell]:
    cells: list[Cell] = []
    for rate in args.rates.split(","):
        for reader in args.readers.split(","):
            if reader == "tcpdump":
                cell = run_tcpdump(seg, args.file, rate, args.limit)
            else:
                workers = int(reader.rsplit("w", 1)[1])
                cell = run_cctv(seg, args.file, rate, workers, args.limit)
            cells.append(cell)
            got = f"{cell.achieved_pps:>10,.0f} pps  loss {cell.loss_pct:.3f} %"
            print(f"{rate:>8} {reader:<8} {got}", file=sys.stderr)
    return cells


def save(args: argparse.Namespace, cells: list[Cell], drain: dict[str, float] | None) -> Path:
    out = args.json or BENCH / "results" / f"live-{platform.node() or 'host'}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "file": str(args.file),
        "host": platform.node(),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "limit": args.limit,
        "cells": [{**asdict(c), "loss_pct": round(c.loss_pct, 4)} for c in cells],
        "drain": drain,
    }
    out.write_text(json.dumps(doc, indent=2) + "\n")
    return out


def main() -> int:
    args = parse_args()
    if os.geteuid() != 0:
        print("run_live.py needs root (network namespaces, packet capture)", file=sys.stderr)
        return 2
    if not args.file.exists():
        make = [sys.executable, str(BENCH / "make_capture.py"), "--out", str(args.file)]
        subprocess.run(make, check=True)
    with open(args.file, "rb") as f:  # warm the page cache so tcpreplay is not disk-bound
        while f.read(1 << 24):
            pass
    with segment() as seg:
        cells = measure(seg, args)
        drain = run_drain(seg, args.file, args.drain) if args.drain else None
    print(table(cells))
    if drain:
        print(
            f"drain (cctv-w1 stopped while tcpreplay filled its buffer with {drain['sent']:,} "
            f"packets): {drain['counted']:,} counted, {drain['kernel_drops']} dropped, "
            f"{drain['cpu_s']} CPU-s = {drain['packets_per_cpu_s']:,} packets per CPU-second"
        )
    print(f"results: {save(args, cells, drain)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
