"""`live` says where it captures and listens when it starts, and how it stopped, without -v.

The default log level of `live` is INFO (other commands: WARNING), so these lines reach the
journal of a sensor started plainly; `-q` takes them away again.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import scaled, wait_until

from .netns import ROOT, need, segment

pytestmark = [pytest.mark.slow, pytest.mark.tools]


def _run_live(tmp_path: Path, *extra: str) -> tuple[int, str]:
    """Start `live` in a fresh segment, stop it once it listens (or after a while with
    -q), and return its exit status and everything it wrote."""
    log_path = tmp_path / "live.log"
    with segment() as seg:
        cmd = [sys.executable, "-m", "monitor", "live", "--interface", seg.sen_if]
        cmd += ["--listen", "127.0.0.1:9108", *extra]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                seg.sensor_cmd(*cmd), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
            )
        try:
            wanted = "metrics on http://127.0.0.1:9108/metrics"
            if "-q" in extra:  # nothing to wait for in the log: wait for the endpoint
                fetch = "import urllib.request as u; u.urlopen('http://127.0.0.1:9108/metrics')"
                ping = seg.sensor_cmd(sys.executable, "-c", fetch)
                wait_until(lambda: subprocess.run(ping, capture_output=True).returncode == 0,
                           30, "the metrics endpoint")  # fmt: skip
            else:

                def listening() -> bool:
                    if proc.poll() is not None:
                        pytest.fail(f"live exited with {proc.returncode}:\n{log_path.read_text()}")
                    return wanted in log_path.read_text()

                wait_until(listening, 30, "the listening line")
            proc.send_signal(signal.SIGTERM)
            status = proc.wait(timeout=scaled(30))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=scaled(10))
    return status, log_path.read_text()


@pytest.mark.parametrize("workers", [1, 2])
def test_start_and_stop_lines_show_by_default(tmp_path: Path, workers: int) -> None:
    need("ip")
    status, text = _run_live(tmp_path, "--workers", str(workers))
    assert status == 0, text
    lines = text.splitlines()
    processes = "one process" if workers == 1 else f"{workers} capture processes"
    assert any(
        "INFO: site default: capturing on ct" in line and line.endswith(processes) for line in lines
    ), text
    assert "cctv-monitor: INFO: metrics on http://127.0.0.1:9108/metrics" in lines, text
    stopped = [line for line in lines if "stopped:" in line]
    assert len(stopped) == 1 and stopped[0].startswith("cctv-monitor: INFO: stopped: "), text
    assert "Traceback" not in text


def test_quiet_live_keeps_them_out(tmp_path: Path) -> None:
    need("ip")
    status, text = _run_live(tmp_path, "-q")
    assert status == 0, text
    assert "metrics on" not in text and "stopped:" not in text, text
