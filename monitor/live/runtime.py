"""What the live sensor's processes share: options, published state, signals, the exporter."""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, field, replace
from types import FrameType

from monitor import __version__
from monitor.capture.live import CaptureOptions
from monitor.config import Policy
from monitor.counters import Snapshot
from monitor.exporter.collector import SensorInfo, build_registry
from monitor.exporter.server import Landing, MetricsServer, serve_metrics
from monitor.exporter.webconfig import WebConfig
from monitor.live.alerts import DEFAULT_RATE, DEFAULT_THROTTLE, AlertLog
from monitor.live.eve_log import DEFAULT_FLOW_RATE, EveLog
from monitor.live.evidence import EvidenceOptions
from monitor.live.health import DEFAULT_STALE_AFTER, CaptureStatus
from monitor.live.notify import Readiness
from monitor.live.reload import ReloadState
from monitor.pipeline import PipelineSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """Everything ``cctv-monitor live`` was asked to do."""

    capture: CaptureOptions
    policy_path: str | None = None
    listen: str = "127.0.0.1:9108"
    web: WebConfig | None = None
    alerts_path: str | None = None
    throttle: float = DEFAULT_THROTTLE
    alerts_rate: float = DEFAULT_RATE
    eve_path: str | None = None  # --eve
    eve_flows: str = "flagged"  # --eve-flows: all, flagged or none
    eve_flows_rate: float = DEFAULT_FLOW_RATE  # --eve-flows-rate: lines a second, 0: no limit
    evidence: EvidenceOptions | None = None
    workers: int = 1
    stale_after: float = DEFAULT_STALE_AFTER
    settings: PipelineSettings = field(default_factory=PipelineSettings)


class Published:
    """The newest snapshot and capture health, handed from the capture loop to scrapes.

    Both are replaced whole (one reference assignment each), never mutated, so the
    scrape thread needs no lock. ``cctv_capture_up`` is decided at scrape time;
    ``taken`` (wall clock) says how fresh the snapshot is (``cctv_snapshot_timestamp_seconds``).
    """

    def __init__(self, interface: str, stale_after: float) -> None:
        self.interface = interface
        self.stale_after = stale_after
        self.snapshot: Snapshot | None = None
        self.status = CaptureStatus()
        self.taken: float | None = None
        self.version = 0  # how many updates: scrapes share a rendering of one version only

    def update(self, snapshot: Snapshot, status: CaptureStatus, taken: float | None = None) -> None:
        """Publish a new snapshot with the capture health it was taken with, and when it
        was taken (now unless said: with workers, the oldest worker's time)."""
        self.snapshot, self.status = snapshot, status
        self.taken = time.time() if taken is None else taken
        self.version += 1  # last: a scrape that sees it renders the new state

    def current(self) -> Snapshot | None:
        """The newest snapshot, with ``cctv_capture_up`` as of now."""
        snap, status = self.snapshot, self.status
        if snap is None:
            return None
        up = 1 if status.up(time.time(), self.stale_after) else 0
        counters = replace(snap.counters, capture_up={self.interface: up})
        return replace(snap, counters=counters)


class Signals:
    """SIGHUP (reload), SIGTERM and SIGINT (stop) as flags, plus a pipe that wakes ``select``."""

    def __init__(self) -> None:
        self.stop = False
        self.reload = False
        self.wake_fd, self._write_fd = os.pipe()
        os.set_blocking(self.wake_fd, False)
        os.set_blocking(self._write_fd, False)
        self._previous: dict[int, object] = {}
        self._previous_wakeup = -1

    def install(self) -> None:
        """Take over the three signals (main thread only)."""
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        self._previous_wakeup = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.reload = True
        else:
            self.stop = True

    def take_reload(self) -> bool:
        """True once per SIGHUP received."""
        wanted, self.reload = self.reload, False
        return wanted

    def restore(self) -> None:
        """Give the signals back and close the pipe."""
        signal.set_wakeup_fd(self._previous_wakeup)
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        os.close(self.wake_fd)
        os.close(self._write_fd)


class SensorState:
    """The policy in use and how its last (re)load went: read by scrapes and the alert log.

    ``alerts`` is the alert log once there is one (its held-back counts are exported);
    ``evidence_write_errors`` the failed evidence writes and ``workers`` the capture workers
    (running, expected, restarts), kept current by the sensor; ``readiness`` says how far
    the start got (landing page).
    """

    def __init__(self, site: str) -> None:
        self.site = site
        self.reload = ReloadState(ok=True, success_ts=time.time())
        self.alerts: AlertLog | None = None
        self.evidence_write_errors = 0
        self.workers: tuple[int, int, int] = (0, 1, 0)
        self.readiness: Readiness | None = None

    def open_alerts(self, config: LiveConfig, policy: Policy) -> AlertLog:
        """The alert log of ``config``, bounded by ``policy``, held as ``alerts`` (with the
        EVE log of ``--eve``, which writes an alert for each of its lines)."""
        site = lambda: self.site  # noqa: E731
        eve = None
        if config.eve_path:
            eve = EveLog(config.eve_path, site, config.eve_flows, config.eve_flows_rate)
        self.alerts = AlertLog(
            config.alerts_path,
            lambda: self.site,
            config.throttle,
            max_keys=policy.limits.findings_per_device,
            rate=config.alerts_rate,
            eve=eve,
        )
        return self.alerts

    def info(self, snapshot_taken: float | None = None) -> SensorInfo:
        """The sensor's own metrics (build info, reload gauges, alerts held back) as of now."""
        r = self.reload
        alerts = self.alerts
        suppressed = dict(alerts.suppressed) if alerts is not None else {}
        errors = {
            "alerts": alerts.write_errors if alerts is not None else 0,
            "evidence": self.evidence_write_errors,
        }
        if alerts is not None and alerts.eve is not None:  # --eve
            errors["eve"] = alerts.eve.write_errors
        lost = alerts.lost_findings if alerts is not None else 0
        return SensorInfo(
            self.site,
            __version__,
            r.ok,
            r.success_ts,
            suppressed,
            snapshot_taken,
            errors,
            lost,
            self.workers,
        )


def start_exporter(config: LiveConfig, published: Published, state: SensorState) -> MetricsServer:
    """Serve ``/metrics`` from ``published`` on ``config.listen`` (OSError: cannot bind)."""
    registry = build_registry(published.current, lambda: state.info(published.taken))

    def landing() -> Landing:
        status = state.readiness.text if state.readiness is not None else ""
        return Landing("cctv-monitor", __version__, state.site, status)

    return serve_metrics(
        config.listen, registry, landing, config.web, version=lambda: published.version
    )
