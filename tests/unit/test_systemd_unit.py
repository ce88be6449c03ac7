"""deploy/cctv-monitor.service: hardened (systemd-analyze security), valid, least privilege.

Whether the sensor works inside this sandbox is tests/live/test_systemd_sandbox.py.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, ProcessCollector

from monitor.exporter.collector import BootTimeProcessCollector
from tests.live.unit_sandbox import unit_settings
from tests.requirements import require_tool

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "cctv-monitor.service"
MAX_EXPOSURE = 2.0


def test_exposure_level_is_at_most_2() -> None:
    analyze = require_tool("systemd-analyze")
    run = subprocess.run(
        [analyze, "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
    )
    found = re.search(r"Overall exposure level for cctv-monitor\.service: (\d+\.\d+)", run.stdout)
    assert found, run.stdout + run.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, run.stdout


def test_the_unit_verifies(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze")
    text = UNIT.read_text(encoding="utf-8")
    assert "ExecStart=/usr/local/bin/cctv-monitor live" in text
    copy = tmp_path / UNIT.name  # the binary is not installed here: any executable will do
    copy.write_text(text.replace("/usr/local/bin/cctv-monitor", "/bin/true"), encoding="utf-8")
    run = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True)
    assert run.returncode == 0 and not run.stderr.strip(), run.stderr


def test_least_privilege_settings() -> None:
    s = {key: values[-1] for key, values in unit_settings(UNIT).items()}
    assert (s["Type"], s["NotifyAccess"]) == ("notify", "main"), "READY=1 from the parent"
    assert s["CapabilityBoundingSet"] == s["AmbientCapabilities"] == "CAP_NET_RAW"
    assert s["NoNewPrivileges"] == "yes" and s["User"] == "cctv-monitor"
    assert "PrivateUsers" not in s, "CAP_NET_RAW would not count for the host's network"
    assert s["MemoryDenyWriteExecute"] == "yes"
    assert (s["ProtectProc"], s["ProcSubset"]) == ("invisible", "pid")
    assert (s["IPAddressDeny"], s["IPAddressAllow"]) == ("any", "localhost")
    assert "--listen 127.0.0.1:" in s["ExecStart"], "the endpoint IPAddressAllow= lets through"
    assert int(s["TasksMax"]) >= 16 and s["MemoryMax"].endswith("G")
    assert unit_settings(UNIT)["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    families = {"AF_PACKET", "AF_INET", "AF_INET6", "AF_UNIX"}
    assert set(s["RestrictAddressFamilies"].split()) == families


def _registry(collector: type[ProcessCollector], proc: Path) -> CollectorRegistry:
    registry = CollectorRegistry()
    collector(registry=registry, proc=str(proc))
    return registry


def test_process_metrics_without_proc_stat(tmp_path: Path) -> None:
    """ProcSubset=pid hides /proc/stat: the stock collector reports nothing, ours still does."""
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "self").symlink_to("/proc/self")  # only the process's own directory
    assert _registry(ProcessCollector, proc).get_sample_value("process_start_time_seconds") is None
    ours = _registry(BootTimeProcessCollector, proc)
    started = ours.get_sample_value("process_start_time_seconds")
    real = _registry(ProcessCollector, Path("/proc")).get_sample_value("process_start_time_seconds")
    assert started is not None and real is not None and abs(started - real) < 2.0
    assert started <= time.time()
    assert ours.get_sample_value("process_resident_memory_bytes")


@pytest.mark.parametrize(
    "setting",
    [
        "CapabilityBoundingSet", "PrivateUsers", "SystemCallFilter", "MemoryDenyWriteExecute",
        "ProcSubset", "IPAddressAllow", "TasksMax", "MemoryMax",
    ],
)  # fmt: skip
def test_each_setting_is_explained_in_the_docs(setting: str) -> None:
    docs = (ROOT / "docs" / "live.md").read_text(encoding="utf-8")
    assert f"`{setting}=" in docs
