"""What a sensor that has just started sees (issue 16): counted, dropped, unaccounted, findings.

For ``--workers`` 1, 2 and 4 (``--workers-list``), ``cctv-monitor live`` starts on one end
of a veth pair (two private namespaces, as ``run_live.py`` builds them) and tcpreplay sends
``pcaps/demo_day.pcap.gz`` (unzipped) at ``--pps`` (3,000) into the other end, starting

* ``ready``: the moment the sensor sends ``READY=1`` to the notification socket this
  script provides (``$NOTIFY_SOCKET``, as systemd's ``Type=notify`` would), or
* ``answers``: the moment ``/metrics`` first answers (a new user's guess at "started").

Once the counts stop moving, one row: frames counted (``cctv_capture_packets_total``),
kernel drops, frames in no counter (sent - counted - dropped), findings
(``cctv_findings_total``) and how long the start took, beside the replay's figures.
Markdown on stdout; the run is appended to ``bench/results/startup-<hostname>.json``.

Usage (root): python bench/run_startup.py [--pps 3000] [--modes ready,answers]
                [--workers-list 1,2,4] [--repeat 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from run_live import FETCH, ROOT, Segment, segment

DEMO = ROOT / "pcaps" / "demo_day.pcap.gz"
POLICY = ROOT / "pcaps" / "site.yaml"
PORT = 9108
SETTLE_SECONDS = 90.0
STILL_SECONDS = 10.0


def replay_figures(pcap: Path) -> tuple[int, int]:
    """(frames, findings) of ``cctv-monitor replay`` on ``pcap`` under the sample policy."""
    out = subprocess.run(
        [sys.executable, "-m", "monitor", "replay", str(pcap), "--config", str(POLICY), "--json"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    report = json.loads(out.stdout)
    return report["totals"]["packets"], sum(f["flows"] for f in report["findings"])


def run_one(seg: Segment, pcap: Path, workers: int, mode: str, pps: int, tmp: Path) -> dict:
    notify_path = tmp / f"notify-{workers}-{mode}"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    cmd = [sys.executable, "-m", "monitor", "live", "--interface", seg.sen_if, "--workers"]
    cmd += [str(workers), "--config", str(POLICY), "--listen", f"127.0.0.1:{PORT}"]
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_path)}
    started = time.monotonic()
    with open(tmp / f"sensor-{workers}-{mode}.log", "wb") as log:
        proc = subprocess.Popen(seg.ns(seg.sen_ns, *cmd), stdout=log, stderr=log, cwd=ROOT, env=env)
    try:
        if mode == "ready":
            _wait_ready(notify, 120)
        else:
            _wait(lambda: _answers(seg), 120)
        waited = time.monotonic() - started
        subprocess.run(
            seg.ns(seg.src_ns, "tcpreplay", f"--intf1={seg.src_if}", f"--pps={pps}", str(pcap)),
            capture_output=True, check=True,
        )  # fmt: skip
        figures = _settled(seg)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        notify.close()
        notify_path.unlink()
    return {"workers": workers, "mode": mode, "start_s": round(waited, 2), **figures}


def scrape(seg: Segment) -> dict[str, float] | None:
    """Totals per sample name and ``where`` label of /metrics; None when it does not answer."""
    url = f"http://127.0.0.1:{PORT}/metrics"
    cmd = seg.ns(seg.sen_ns, sys.executable, "-c", FETCH, url)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    if done.returncode != 0:
        return None
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(done.stdout):
        for sample in family.samples:
            where = sample.labels.get("where")
            key = f"{sample.name}:{where}" if where else sample.name
            out[key] = out.get(key, 0.0) + sample.value
    return out


def _answers(seg: Segment) -> bool:
    return scrape(seg) is not None


def _wait(probe, timeout: float) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > end:
            raise TimeoutError("the sensor did not start")
        time.sleep(0.02)


def _wait_ready(sock: socket.socket, timeout: float) -> None:
    sock.settimeout(timeout)
    while b"READY=1" not in sock.recv(4096).split(b"\n"):
        pass


def _settled(seg: Segment) -> dict:
    """The figures once they held still for STILL_SECONDS (flows settle, then end, on the
    idle clock: a finding can come some seconds after the last frame)."""
    last: dict | None = None
    still_since = time.monotonic()
    end = still_since + SETTLE_SECONDS
    while time.monotonic() < end:
        s = scrape(seg) or {}
        now = {
            "counted": int(s.get("cctv_capture_packets_total", 0)),
            "kernel_drops": int(s.get("cctv_capture_dropped_packets_total:kernel", 0)),
            "findings": int(s.get("cctv_findings_total", 0)),
        }
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= STILL_SECONDS:
            return now
        time.sleep(0.5)
    assert last is not None
    return last


def table(rows: list[dict], frames: int, findings: int) -> str:
    out = [
        f"replay: {frames} frames, {findings} findings",
        "",
        "| workers | traffic starts at | start (s) | counted | kernel drops | unaccounted "
        "| findings |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        unaccounted = frames - r["counted"] - r["kernel_drops"]
        mode = "READY=1" if r["mode"] == "ready" else "first answer of /metrics"
        out.append(
            f"| {r['workers']} | {mode} | {r['start_s']} | {r['counted']:,} | "
            f"{r['kernel_drops']:,} | {unaccounted:,} | {r['findings']} |"
        )
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pps", type=int, default=3000)
    p.add_argument("--modes", default="ready,answers")
    p.add_argument("--workers-list", default="1,2,4")
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        pcap = tmp / "demo_day.pcap"
        with gzip.open(DEMO) as src, open(pcap, "wb") as out:
            shutil.copyfileobj(src, out)
        frames, findings = replay_figures(pcap)
        rows = []
        with segment() as seg:
            for _ in range(args.repeat):
                for mode in args.modes.split(","):
                    for workers in map(int, args.workers_list.split(",")):
                        rows.append(run_one(seg, pcap, workers, mode, args.pps, tmp))
    print(table(rows, frames, findings))
    results = ROOT / "bench" / "results" / f"startup-{platform.node()}.json"
    runs = json.loads(results.read_text()) if results.exists() else []
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    runs.append({
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "commit": commit,
        "pps": args.pps, "replay": {"frames": frames, "findings": findings}, "rows": rows,
    })  # fmt: skip
    results.write_text(json.dumps(runs, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
