"""The sensor works inside the sandbox of deploy/cctv-monitor.service, with CAP_NET_RAW only.

systemd is not PID 1 here, so the unit cannot be started with ``systemd-run``. Instead the
sensor runs in the test's network namespace the way the unit runs it, built by hand:

* as ``nobody`` with CAP_NET_RAW as its only capability (bounding, inheritable, ambient;
  ``setpriv``), without CAP_NET_ADMIN;
* with ``/proc`` mounted ``hidepid=invisible,subset=pid`` in a mount namespace of its own
  (``ProtectProc=invisible``, ``ProcSubset=pid``);
* under the unit's own seccomp filters (``SystemCallFilter=``, ``SystemCallErrorNumber=``,
  ``MemoryDenyWriteExecute=``, ``RestrictAddressFamilies=``, NoNewPrivileges), rebuilt from
  the unit file by ``unit_sandbox.py``.

It must capture every frame of a sample capture with the interface in promiscuous mode,
raise its findings into the alert log, serve metrics (``process_*`` too), reload on SIGHUP
and flush and exit 0 on SIGTERM, with one worker and with two. Without CAP_NET_RAW it must
fail (so the capability is what the capture needs). A run under ``strace`` lists every
system call the sensor makes; all must be in the unit's allow-list.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.requirements import unmet
from tests.waiting import wait_until

from .netns import PCAPS, ROOT, Segment, Sensor, need, segment, total
from .unit_sandbox import allowed_syscalls, unit_settings

pytestmark = [pytest.mark.slow, pytest.mark.tools]
UNIT = ROOT / "deploy" / "cctv-monitor.service"
SANDBOX = Path(__file__).with_name("unit_sandbox.py")
EXPECTED = yaml.safe_load((PCAPS / "expected.yaml").read_text())["captures"]["egress.pcap"]
CAP_NET_RAW = 1 << 13
# Calls the sensor makes that the unit refuses (EPERM), and why that is fine; the sandbox
# runs above show the sensor working with them refused.
REFUSED_AND_FINE = {
    "mbind": "numpy's OpenBLAS asks for a NUMA policy for its buffers and ignores a refusal",
}
UNPRIVILEGED = (
    "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
    "--inh-caps=-all,+net_raw", "--ambient-caps=-all,+net_raw", "--bounding-set=-all,+net_raw",
)  # fmt: skip


def need_sandbox(*tools: str) -> None:
    """Root and the tools (skip, or fail under CI), and libseccomp for the filters."""
    need("ip", "setpriv", "unshare", "systemd-analyze", *tools)
    if ctypes.util.find_library("seccomp") is None:
        unmet("libseccomp is not installed (make system-deps)")


class SandboxedSensor(Sensor):
    """A Sensor started as the unit starts it (see the module docstring)."""

    caps: tuple[str, ...] = UNPRIVILEGED
    filters: bool = True
    trace: Path | None = None

    def start(self) -> Sensor:
        cmd = [sys.executable, "-m", "monitor", "-v", "live", "--interface", self.seg.sen_if]
        cmd += ["--listen", f"127.0.0.1:{self.port}", *self.args]
        if self.filters:
            cmd = [sys.executable, str(SANDBOX), str(UNIT), *cmd]
        if self.trace is not None:
            cmd = ["strace", "-f", "-qq", "-o", str(self.trace), *cmd]
        proc = "mount -t proc -o hidepid=invisible,subset=pid proc /proc"
        script = f"{reachable_python(self.workdir)}{proc} && exec {shlex.join([*self.caps, *cmd])}"
        wrapped = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.seg.sensor_cmd(*wrapped), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
            )
        wait_until(self._capturing, 60, "the capture to be up")
        return self

    def signal(self, sig: int) -> None:
        """To the sensor's main process (under strace, the process is strace's child)."""
        if self.trace is None:
            super().signal(sig)
            return
        found = [p for p in _sensor_pids(self.seg, children=False) if _comm(p) != "strace"]
        (main,) = [p for p in found if _ppid(p) not in found]  # not a forked capture worker
        os.kill(main, sig)

    def stop(self, timeout: float = 30.0) -> int:
        if self.trace is not None and self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return super().stop(timeout)


def reachable_python(workdir: Path) -> str:
    """Shell commands (for the sensor's own mount namespace) that let ``nobody`` run this
    interpreter, and start it again for ``--workers`` (multiprocessing's spawn).

    Where the interpreter lives under a directory others may not enter (pyenv under
    ``/root``), that directory is covered with a world-enterable tmpfs holding only the
    interpreter's tree, bind-mounted back. An installed sensor (``/opt/cctv-monitor``)
    needs none of this.
    """
    real = Path(os.path.realpath(sys.executable))
    closed = [d for d in reversed(real.parents) if d != Path("/") and not os.stat(d).st_mode & 1]
    if not closed:
        return ""
    top = closed[0]
    keep = top / real.relative_to(top).parts[0]
    stage = workdir / "python-tree"
    stage.mkdir(exist_ok=True)
    return (
        f"mount --bind {shlex.quote(str(keep))} {shlex.quote(str(stage))} && "
        f"mount -t tmpfs -o mode=0755 tmpfs {shlex.quote(str(top))} && "
        f"mkdir -p {shlex.quote(str(keep))} && "
        f"mount --bind {shlex.quote(str(stage))} {shlex.quote(str(keep))} && "
    )


@contextmanager
def state_dir() -> Iterator[Path]:
    """A directory ``nobody`` may write to (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="cctv-unit-"))
    try:
        shutil.copy(PCAPS / "site.yaml", path / "site.yaml")
        os.chown(path, 65534, 65534)
        path.chmod(0o750)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _status(pid: int) -> dict[str, str]:
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _sensor_pids(seg: Segment, children: bool = True) -> list[int]:
    """The sensor's processes: ``python -m monitor live`` on this test's interface and
    every process it started (capture workers, multiprocessing's helpers)."""
    found = subprocess.run(
        ["pgrep", "-f", f"monitor -v live --interface {seg.sen_if}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    pids = [int(p) for p in found]
    for pid in pids if children else ():  # grows while it is walked: children, grandchildren
        children = Path(f"/proc/{pid}/task/{pid}/children")
        if children.exists():
            pids += [int(c) for c in children.read_text().split() if int(c) not in pids]
    return [p for p in pids if Path(f"/proc/{p}/status").exists()]


def _promiscuity(seg: Segment) -> int:
    shown = subprocess.run(
        seg.sensor_cmd("ip", "-d", "link", "show", seg.sen_if), capture_output=True, text=True
    ).stdout
    found = re.search(r"promiscuity (\d+)", shown)
    assert found, shown
    return int(found.group(1))


def _run(seg: Segment, sensor: Sensor, state: Path, workers: int) -> None:
    """Capture, findings, metrics, SIGHUP, SIGTERM: what the sandboxed sensor must do."""
    sensor.start()
    try:
        assert _promiscuity(seg) >= 1, "promiscuous mode without CAP_NET_ADMIN"
        pids = _sensor_pids(seg)
        assert len(pids) >= 1 + (workers if workers > 1 else 0), pids
        for pid in pids:
            st = _status(pid)
            assert st["Uid"].split()[0] == "65534"
            assert int(st["CapEff"], 16) == CAP_NET_RAW and int(st["CapBnd"], 16) == CAP_NET_RAW
            if isinstance(sensor, SandboxedSensor) and sensor.filters:
                assert st["NoNewPrivs"].strip() == "1" and st["Seccomp"].strip() == "2"
        seg.replay(PCAPS / "egress.pcap")
        frames = EXPECTED["packets"]
        sensor.wait_captured(frames, "every frame captured")
        scraped = sensor.scrape()
        assert total(scraped["cctv_capture_packets_total"]) == frames
        assert scraped.get("process_resident_memory_bytes"), "process metrics under ProcSubset"
        sensor.signal(signal.SIGHUP)
        wait_until(lambda: "policy reloaded from" in sensor.log(), 15, "the policy reload")
        assert total(sensor.scrape()["cctv_config_last_reload_successful"]) == 1
        assert sensor.stop() == 0, sensor.log()
    finally:
        sensor.kill()
    records = [json.loads(line) for line in (state / "alerts.jsonl").read_text().splitlines()]
    want = sorted((f["kind"], f["device"], f["peer"], f["peer_port"]) for f in EXPECTED["findings"])
    got = sorted((r["kind"], r["device"], r["peer"], r["peer_port"]) for r in records)
    assert got == want, sensor.log()


@pytest.mark.parametrize("workers", [1, 2])
def test_the_sensor_works_in_the_units_sandbox(tmp_path: Path, workers: int) -> None:
    need_sandbox("tcpreplay")
    with state_dir() as state, segment() as seg:
        args = ("--config", str(state / "site.yaml"), "--alerts", str(state / "alerts.jsonl"))
        args += ("--evidence-dir", str(state / "evidence"), "--workers", str(workers))
        _run(seg, SandboxedSensor(seg, tmp_path, args), state, workers)


def test_capture_needs_cap_net_raw(tmp_path: Path) -> None:
    need_sandbox()
    with state_dir(), segment() as seg:
        sensor = SandboxedSensor(seg, tmp_path, ())
        sensor.caps = tuple(c.replace(",+net_raw", "") for c in UNPRIVILEGED)
        with pytest.raises(pytest.fail.Exception, match="capturing needs CAP_NET_RAW"):
            sensor.start()
        sensor.kill()


def test_every_system_call_the_sensor_makes_is_allowed(tmp_path: Path) -> None:
    need_sandbox("tcpreplay", "strace")
    allowed, _ = allowed_syscalls(unit_settings(UNIT))
    with state_dir() as state, segment() as seg:
        trace = state / "strace.txt"
        args = ("--config", str(state / "site.yaml"), "--alerts", str(state / "alerts.jsonl"))
        args += ("--evidence-dir", str(state / "evidence"), "--workers", "2")
        sensor = SandboxedSensor(seg, tmp_path, args)
        sensor.filters, sensor.trace = False, trace  # unfiltered: see everything it calls
        _run(seg, sensor, state, 2)
        text = trace.read_text()
    called = {m.group(1) for m in re.finditer(r"^\d+\s+([a-z_0-9]+)\(", text, re.M)}
    called.discard("execve")  # strace's own start of the command, before any filter
    assert len(called) > 30, "strace saw the run"
    outside = called - allowed
    assert outside <= set(REFUSED_AND_FINE), f"outside the unit's SystemCallFilter: {outside}"
    print(f"\n{len(called)} distinct system calls; outside the allow-list: {sorted(outside)}")
