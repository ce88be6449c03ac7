"""Test helpers for the live sensor: private network namespaces, a veth pair, a sensor process.

Every packet a test injects stays inside two namespaces the test creates: the veth pair
is created with both ends already inside them (``ip link add A netns SRC type veth peer
name B netns SEN``), so neither end ever exists in the host's namespace, there is no
route anywhere, and deleting the namespaces deletes the pair. Names carry the test's
process id and a counter, so parallel runs and leftovers of a killed run never clash.

Every time limit here is scaled by ``CCTV_TEST_TIMEOUT_SCALE`` (``tests/waiting.py``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.requirements import require_root, require_tool
from tests.waiting import scaled, wait_until

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
_COUNTER = itertools.count(1)
Series = dict[tuple[tuple[str, str], ...], float]


def need(*tools: str) -> None:
    """Skip (fail under CI) unless running as root with every tool on PATH."""
    require_root("network namespaces, packet capture")
    for tool in tools:
        require_tool(tool)


def run(cmd: list[str], timeout: float = 30.0, check: bool = True) -> str:
    """Run a command, bounded by ``scaled(timeout)``; its stdout (CalledProcessError with
    stderr when it fails)."""
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(timeout))
    if check and done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, cmd, done.stdout, done.stderr)
    return done.stdout


@dataclass
class Segment:
    """Two namespaces joined by a veth: frames go in at ``src_if``, the sensor reads ``sen_if``."""

    src_ns: str
    sen_ns: str
    src_if: str
    sen_if: str

    def exec(self, ns: str, *cmd: str) -> list[str]:
        """``cmd`` run inside namespace ``ns``."""
        return ["ip", "netns", "exec", ns, *cmd]

    def sensor_cmd(self, *cmd: str) -> list[str]:
        """``cmd`` inside the sensor's namespace."""
        return self.exec(self.sen_ns, *cmd)

    def replay(self, *pcaps: Path, extra: tuple[str, ...] = ("--topspeed",)) -> str:
        """tcpreplay the captures (in order) into the segment."""
        cmd = ["tcpreplay", f"--intf1={self.src_if}", *extra, *map(str, pcaps)]
        return run(self.exec(self.src_ns, *cmd), timeout=300)

    def set_sensor_link(self, up: bool) -> None:
        """Take the sensor's end of the pair down or up."""
        run(self.sensor_cmd("ip", "link", "set", self.sen_if, "up" if up else "down"))

    def sensor_tx_packets(self) -> int:
        """How many packets the sensor's end of the pair has transmitted."""
        path = f"/sys/class/net/{self.sen_if}/statistics/tx_packets"
        return int(run(self.sensor_cmd("cat", path)).strip())


@contextlib.contextmanager
def segment() -> Iterator[Segment]:
    """A fresh two-namespace veth segment, removed afterwards whatever happens."""
    n = next(_COUNTER)
    tag = f"{os.getpid() % 100000}x{n}"
    seg = Segment(f"cctvt-{tag}-src", f"cctvt-{tag}-sen", f"ct{tag}a", f"ct{tag}b")
    try:
        for ns in (seg.src_ns, seg.sen_ns):
            run(["ip", "netns", "add", ns])
            # No IPv6 anywhere: autoconf would send router solicitations and DAD probes
            # from an interface that is up, and then a non-zero TX count could not prove
            # that the sensor transmitted nothing.
            run(seg.exec(ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"))
            run(seg.exec(ns, "sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"))
            run(seg.exec(ns, "ip", "link", "set", "lo", "up"))
        peer = ("peer", "name", seg.sen_if, "netns", seg.sen_ns)  # born inside its namespace
        run(["ip", "link", "add", seg.src_if, "netns", seg.src_ns, "type", "veth", *peer])
        for ns, ifname in ((seg.src_ns, seg.src_if), (seg.sen_ns, seg.sen_if)):
            run(seg.exec(ns, "sysctl", "-q", "-w", f"net.ipv6.conf.{ifname}.disable_ipv6=1"))
            run(seg.exec(ns, "ip", "link", "set", ifname, "up"))
        yield seg
    finally:
        for ns in (seg.src_ns, seg.sen_ns):
            run(["ip", "netns", "del", ns], check=False)


@dataclass
class Sensor:
    """A ``cctv-monitor live`` process inside the sensor namespace."""

    seg: Segment
    workdir: Path
    args: tuple[str, ...] = ()
    port: int = 9108
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] | None = None  # added to the test's environment
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.workdir / f"sensor-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def start(self) -> Sensor:
        """Start the sensor and wait (bounded) until its capture is up."""
        self.launch()
        wait_until(self._capturing, 30, "the capture to be up")
        return self

    def launch(self) -> Sensor:
        """Start the sensor process and return at once."""
        cmd = [sys.executable, "-m", "monitor", "-v", "live", "--interface", self.seg.sen_if]
        cmd += ["--listen", f"127.0.0.1:{self.port}", *self.args]
        env = {**os.environ, **self.env} if self.env is not None else None
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.seg.sensor_cmd(*cmd), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env
            )
        return self

    def _capturing(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            pytest.fail(f"sensor exited with {self.proc.returncode}:\n{self.log()}")
        text = self.scrape_text()
        return text is not None and total(parse_metrics(text).get("cctv_capture_up", {})) == 1

    def log(self) -> str:
        """What the sensor wrote to stderr so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def scrape_text(self) -> str | None:
        """``/metrics`` fetched from inside the namespace, None when it does not answer."""
        cmd = self.seg.sensor_cmd(sys.executable, "-c", FETCH, self.url, str(scaled(5)))
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(20))
        return done.stdout if done.returncode == 0 else None

    def scrape(self) -> dict[str, Series]:
        """Every sample, by metric sample name, keyed by sorted label pairs."""
        text = self.scrape_text()
        assert text is not None, f"scrape failed; sensor log:\n{self.log()}"
        return parse_metrics(text)

    def wait_captured(self, frames: int, what: str | None = None) -> None:
        """Wait (up to 30 s, scaled) until the sensor has captured ``frames`` packets."""
        wait_until(
            lambda: total(self.scrape().get("cctv_capture_packets_total", {})) >= frames,
            30,
            what or f"{frames} captured packets",
        )

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait (bounded by ``scaled(timeout)``); the exit status. Kills it if
        it hangs."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        limit = scaled(timeout)
        try:
            return self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=scaled(10))
            pytest.fail(f"sensor did not exit within {limit:g} s of SIGTERM:\n{self.log()}")

    def kill(self) -> None:
        """Last resort in a finally: make sure the process is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=scaled(10))


FETCH = (  # argv: URL [timeout in s, default 5]
    "import sys, urllib.request\n"
    "limit = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0\n"
    "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=limit).read().decode())\n"
)


def parse_metrics(text: str) -> dict[str, Series]:
    """Samples of a Prometheus text exposition, by sample name."""
    out: dict[str, Series] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            out.setdefault(sample.name, {})[key] = sample.value
    return out


def total(series: Series, **match: str) -> float:
    """Sum of the samples whose labels include ``match``."""
    return sum(v for k, v in series.items() if all((n, match[n]) in k for n in match))
