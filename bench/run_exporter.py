"""Does ``/metrics`` stay fast for crowded and hostile clients while the sensor captures?

The scenario of issue 11 point 4, end to end: ``cctv-monitor live`` captures on one end of
a veth pair (two private network namespaces, as ``run_live.py`` builds them) while
tcpreplay sends ``bench/data/cctv-1m.pcap`` into the other end at ``--pps``, looping.
Inside the sensor's namespace, over loopback:

* ``--scrapers`` (50) scrapers (threads with blocking sockets, like Prometheus's scrape
  loops; one client process) fetch ``/metrics`` with gzip, each on a new connection
  (``--keep-alive``: one kept per scraper, as Prometheus does), every ``--interval``
  seconds each (0: back to back), for ``--seconds`` (20);
* ``--idle`` (200) clients hold half-open connections: half connect and send nothing,
  half send a request line and then trickle one byte every 2 s; whenever the sensor
  closes one, it connects again.

A baseline phase with the same traffic and no clients comes first. Reported: scrape
latency (p50, p99, max, from connect to the last byte), errors (a status other than 200,
a refused or reset connection, no answer within 10 s), kernel drops in each phase and the
sensor's CPU seconds. ``--tls`` serves TLS with basic auth (a throwaway certificate and
bcrypt hash). Markdown on stdout; the run is appended to
``bench/results/exporter-<hostname>.json``.

Usage (root): python bench/run_exporter.py [--seconds 20] [--scrapers 50] [--idle 200]
                [--interval 0.2] [--pps 50000] [--keep-alive] [--tls]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import ipaddress
import json
import os
import platform
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from run_live import ROOT, Segment, cpu_seconds, segment

BENCH = Path(__file__).resolve().parent
DEFAULT_FILE = BENCH / "data" / "cctv-1m.pcap"
PORT = 9108
TIMEOUT = 10.0
PASSWORD = "bench-scrape"


# -- the clients (run inside the sensor's namespace: ``--client ROLE``) -------------------
def _client_tls(args: argparse.Namespace) -> tuple[ssl.SSLContext | None, bytes]:
    if not args.cafile:
        return None, b""
    token = base64.b64encode(f"prometheus:{PASSWORD}".encode())
    header = b"Authorization: Basic " + token + b"\r\n"
    return ssl.create_default_context(cafile=args.cafile), header


def _fetch(sock: socket.socket, req: bytes) -> bool:
    """Send ``req`` and read one response (headers, then Content-Length bytes)."""
    sock.sendall(req)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed before the response")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)content-length:\s*(\d+)", head)
    want = int(length.group(1)) if length else 0
    while len(body) < want:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed in the middle of the body")
        body += chunk
    return re.match(rb"HTTP/1\.[01] 200 ", head) is not None


def _scraper(args: argparse.Namespace, end: float, out: dict[str, Any]) -> None:
    """One scraper: a thread with blocking sockets, as a Prometheus scrape loop is."""
    ctx, auth = _client_tls(args)
    close = b"" if args.keep_alive else b"Connection: close\r\n"
    req = b"GET /metrics HTTP/1.1\r\nHost: bench\r\nAccept-Encoding: gzip\r\n" + auth + close
    req += b"\r\n"
    sock: socket.socket | None = None
    next_at = time.monotonic() + random.uniform(0, args.interval)  # staggered like targets
    while time.monotonic() < end:
        if next_at > time.monotonic():
            time.sleep(next_at - time.monotonic())
        started = time.monotonic()
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", args.port), timeout=TIMEOUT)
                if ctx is not None:
                    sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
            ok = _fetch(sock, req)
            if not args.keep_alive:
                sock.close()
                sock = None
            took = time.monotonic() - started
            with out["lock"]:
                if ok:
                    out["latencies"].append(took)
                    second = str(int(started - out["t0"]))
                    worst = out["worst_by_second"]
                    worst[second] = max(worst.get(second, 0.0), took)
                else:
                    out["errors"]["status"] += 1
        except TimeoutError:
            out["errors"]["timeout"] += 1
            sock = None
        except OSError as exc:
            out["errors"][type(exc).__name__] += 1
            sock = None
        next_at = max(next_at + args.interval, time.monotonic())  # late: go at once


def _scrapers(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": [], "errors": Counter(), "worst_by_second": {}}
    out["t0"], out["lock"] = time.monotonic(), threading.Lock()
    end = out["t0"] + args.seconds
    threads = [
        threading.Thread(target=_scraper, args=(args, end, out)) for _ in range(args.scrapers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    del out["lock"], out["t0"]
    out["cpu_s"] = round(time.process_time(), 2)
    return out


async def _idler(args: argparse.Namespace, end: float, trickle: bool, out: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    ctx, _ = _client_tls(args)
    while loop.time() < end:
        try:
            opening = asyncio.open_connection("127.0.0.1", args.port, ssl=ctx)
            reader, writer = await asyncio.wait_for(opening, TIMEOUT)
        except (OSError, TimeoutError):
            out["connect_errors"] += 1
            await asyncio.sleep(0.5)
            continue
        out["opened"] += 1
        try:
            if trickle:
                writer.write(b"GET /metrics HTTP/1.1\r\n")
            while loop.time() < end:
                try:
                    data = await asyncio.wait_for(reader.read(1), 2.0)
                except TimeoutError:
                    data = None
                if data == b"":
                    out["closed_by_server"] += 1
                    break
                if trickle:
                    writer.write(b"X")
                    await writer.drain()
        except OSError:
            out["closed_by_server"] += 1
        writer.close()


async def _idlers(args: argparse.Namespace) -> dict[str, Any]:
    end = asyncio.get_running_loop().time() + args.seconds
    out = {"opened": 0, "closed_by_server": 0, "connect_errors": 0}
    await asyncio.gather(*(_idler(args, end, i % 2 == 1, out) for i in range(args.idle)))
    out["cpu_s"] = round(time.process_time(), 2)
    return out


def _probe(args: argparse.Namespace) -> str:
    import urllib.request

    ctx, auth = _client_tls(args)
    req = urllib.request.Request(f"{'https' if ctx else 'http'}://127.0.0.1:{args.port}/metrics")
    if auth:
        req.add_header("Authorization", auth.split(b": ", 1)[1].strip().decode())
    with urllib.request.urlopen(req, timeout=TIMEOUT, context=ctx) as resp:
        return str(resp.read().decode())


# -- the orchestration (root, host side) ---------------------------------------------------
def _in_sensor_ns(seg: Segment, args: argparse.Namespace, role: str) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--client", role]
    cmd += ["--port", str(args.port), "--seconds", str(args.seconds), "--scrapers"]
    cmd += [str(args.scrapers), "--idle", str(args.idle), "--interval", str(args.interval)]
    cmd += ["--keep-alive"] if args.keep_alive else []
    cmd += ["--cafile", args.cafile] if args.cafile else []
    return seg.ns(seg.sen_ns, *cmd)


def capture_totals(seg: Segment, args: argparse.Namespace) -> dict[str, float]:
    """Packets counted and kernel drops, from one scrape of the sensor."""
    done = subprocess.run(
        _in_sensor_ns(seg, args, "probe"), capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"cannot scrape the sensor: {done.stderr.strip()[-300:]}")
    text = done.stdout
    out = {"packets": 0.0, "kernel_drops": 0.0, "up": 0.0}
    for line in text.splitlines():
        value = line.rsplit(" ", 1)[-1]
        if line.startswith("cctv_capture_packets_total{"):
            out["packets"] += float(value)
        elif line.startswith("cctv_capture_dropped_packets_total{") and 'where="kernel"' in line:
            out["kernel_drops"] += float(value)
        elif line.startswith("cctv_capture_up{"):
            out["up"] += float(value)
    return out


def _web_config(directory: Path) -> Path:
    """A throwaway certificate for 127.0.0.1 and a bcrypt user, as a --web-config file."""
    import bcrypt
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (directory / "bench.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pkcs8 = serialization.PrivateFormat.PKCS8
    (directory / "bench.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption())
    )
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    path = directory / "web.yml"
    path.write_text(
        "tls_server_config:\n  cert_file: bench.crt\n  key_file: bench.key\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    return path


def _wait_up(seg: Segment, args: argparse.Namespace, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sensor exited with {proc.returncode}")
        with contextlib.suppress(subprocess.SubprocessError, RuntimeError):
            if capture_totals(seg, args)["up"] == 1:
                return
        time.sleep(0.5)
    raise RuntimeError("the sensor's capture did not come up")


def _stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def run(seg: Segment, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "monitor", "live", "--interface", seg.sen_if]
    cmd += ["--listen", f"127.0.0.1:{args.port}"]
    if args.tls:
        cmd += ["--web-config", str(_web_config(workdir))]
        args.cafile = str(workdir / "bench.crt")
    log = open(workdir / "sensor.log", "wb")  # noqa: SIM115 - open for the sensor's life
    sensor = subprocess.Popen(seg.ns(seg.sen_ns, *cmd), cwd=ROOT, stderr=log, stdout=log)
    replay = None
    try:
        _wait_up(seg, args, sensor)
        tcpreplay = ["tcpreplay", f"--intf1={seg.src_if}", f"--pps={args.pps}", "--loop=0"]
        tcpreplay.append("--timer=nano")  # the default busy-waits a whole core away
        replay = subprocess.Popen(
            seg.ns(seg.src_ns, *tcpreplay, str(args.file)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(2)
        m0 = capture_totals(seg, args)
        time.sleep(args.baseline)
        m1 = capture_totals(seg, args)
        cpu0, replay_cpu0 = cpu_seconds(sensor.pid), cpu_seconds(replay.pid)
        idle = subprocess.Popen(_in_sensor_ns(seg, args, "idle"), stdout=subprocess.PIPE)
        time.sleep(1)  # let the idle crowd connect first
        scrapers = subprocess.Popen(_in_sensor_ns(seg, args, "scrapers"), stdout=subprocess.PIPE)
        scraped = json.loads(scrapers.communicate(timeout=args.seconds + 120)[0])
        cpu = cpu_seconds(sensor.pid) - cpu0
        replay_cpu = cpu_seconds(replay.pid) - replay_cpu0
        m2 = capture_totals(seg, args)
        idled = json.loads(idle.communicate(timeout=args.seconds + 120)[0])
    finally:
        if replay is not None:
            _stop(replay, signal.SIGINT)
        _stop(sensor)
        log.close()
    lat = sorted(scraped["latencies"])

    def pick(q: float) -> float:
        return 1000 * lat[min(int(q * len(lat)), len(lat) - 1)] if lat else float("nan")

    load_s = args.seconds + 1
    return {
        "scrapes_ok": len(lat),
        "errors": sum(scraped["errors"].values()),
        "errors_by_kind": scraped["errors"],
        "p50_ms": round(pick(0.50), 2),
        "p99_ms": round(pick(0.99), 2),
        "max_ms": round(1000 * lat[-1], 2) if lat else None,
        "idle": idled,
        "worst_ms_by_second": {
            k: round(1000 * v, 1)
            for k, v in sorted(scraped["worst_by_second"].items(), key=lambda kv: int(kv[0]))
        },
        "baseline": {
            "seconds": args.baseline,
            "packets": m1["packets"] - m0["packets"],
            "kernel_drops": m1["kernel_drops"] - m0["kernel_drops"],
        },
        "loaded": {
            "seconds": round(load_s, 1),
            "packets": m2["packets"] - m1["packets"],
            "kernel_drops": m2["kernel_drops"] - m1["kernel_drops"],
            "sensor_cpu_s": round(cpu, 2),
            "tcpreplay_cpu_s": round(replay_cpu, 2),
            "scrapers_cpu_s": scraped["cpu_s"],
            "idle_clients_cpu_s": idled["cpu_s"],
        },
        "load_avg_1m_after": os.getloadavg()[0],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--baseline", type=float, default=10.0, help="seconds without clients")
    ap.add_argument("--scrapers", type=int, default=50)
    ap.add_argument("--idle", type=int, default=200)
    ap.add_argument("--interval", type=float, default=0.2, help="per scraper; 0: back to back")
    ap.add_argument("--pps", type=int, default=50_000)
    ap.add_argument("--keep-alive", action="store_true")
    ap.add_argument("--tls", action="store_true", help="TLS and basic auth (--web-config)")
    ap.add_argument("--port", type=int, default=PORT)
    ap.add_argument("--json", type=Path, default=None, help="results file (runs appended)")
    ap.add_argument("--label", default="", help="a word about this run, kept in the results")
    ap.add_argument("--client", choices=["scrapers", "idle", "probe"], help=argparse.SUPPRESS)
    ap.add_argument("--cafile", default=None, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def report(args: argparse.Namespace, r: dict[str, Any]) -> str:
    mode = "keep-alive" if args.keep_alive else "new connection per scrape"
    scheme = "https + basic auth" if args.tls else "http"
    return (
        f"{args.scrapers} scrapers every {args.interval:g} s ({mode}, {scheme}) + {args.idle} "
        f"half-open clients, {args.seconds:g} s, tcpreplay {args.pps:,} pps\n\n"
        "| scrapes ok | errors | p50 ms | p99 ms | max ms | kernel drops (baseline) | "
        "kernel drops (loaded) | packets (loaded) | sensor CPU s |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        f"| {r['scrapes_ok']:,} | {r['errors']} | {r['p50_ms']} | {r['p99_ms']} | "
        f"{r['max_ms']} | {r['baseline']['kernel_drops']:.0f} | "
        f"{r['loaded']['kernel_drops']:.0f} | {r['loaded']['packets']:,.0f} | "
        f"{r['loaded']['sensor_cpu_s']} |\n\n"
        f"idle clients: {r['idle']['opened']} connections opened, "
        f"{r['idle']['closed_by_server']} closed by the sensor, "
        f"{r['idle']['connect_errors']} failed to connect\n"
        f"CPU seconds while loaded: sensor {r['loaded']['sensor_cpu_s']}, tcpreplay "
        f"{r['loaded']['tcpreplay_cpu_s']}, scrapers {r['loaded']['scrapers_cpu_s']}, idle "
        f"clients {r['loaded']['idle_clients_cpu_s']}; load average after "
        f"{r['load_avg_1m_after']:.2f} on {os.cpu_count()} cores\n"
    )


def main() -> int:
    args = parse_args()
    if args.client is not None:
        if args.client == "probe":
            sys.stdout.write(_probe(args))
        else:
            idle = args.client == "idle"
            print(json.dumps(asyncio.run(_idlers(args)) if idle else _scrapers(args)))
        return 0
    if os.geteuid() != 0:
        print("run_exporter.py needs root (network namespaces, packet capture)", file=sys.stderr)
        return 2
    if not args.file.exists():
        make = [sys.executable, str(BENCH / "make_capture.py"), "--out", str(args.file)]
        subprocess.run(make, check=True)
    with tempfile.TemporaryDirectory() as tmp, segment() as seg:
        result = run(seg, args, Path(tmp))
    print(report(args, result))
    out = args.json or BENCH / "results" / f"exporter-{platform.node() or 'host'}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    skip = {"client", "cafile", "json", "label"}
    settings = {k: v for k, v in vars(args).items() if k not in skip}
    run_doc = {
        "label": args.label,
        "host": platform.node(),
        "cores": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()},
        "result": result,
    }
    doc = json.loads(out.read_text()) if out.exists() else {}
    doc.setdefault("runs", []).append(run_doc)  # every run kept, newest last
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
