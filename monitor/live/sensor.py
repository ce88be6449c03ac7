"""The live sensor in one process: capture, exporter, alert log, SIGHUP reload, SIGTERM flush.

The capture handle is opened first, before the catalog is loaded and the pipeline built
(``monitor/live/startup.py``): frames that arrive meanwhile wait in its buffer. The
sensor is ready (``cctv_capture_up`` 1, ``READY=1`` to systemd) once its loop reads.
"""

from __future__ import annotations

import logging

from monitor.classify.catalog import VendorCatalog, load_catalog
from monitor.config import Policy
from monitor.counters import Snapshot
from monitor.exporter.server import MetricsServer
from monitor.live.evidence import EvidenceSink
from monitor.live.health import CaptureStatus
from monitor.live.loop import CaptureLoop
from monitor.live.notify import Readiness
from monitor.live.reload import apply_policy, load_new_policy, reload_web_config
from monitor.live.runtime import LiveConfig, Published, SensorState, Signals, start_exporter
from monitor.live.startup import Handles, open_early, worker_handles
from monitor.model import Finding
from monitor.pipeline import Pipeline

log = logging.getLogger(__name__)


def run_live(config: LiveConfig, policy: Policy) -> int:
    """Run the sensor until SIGTERM/SIGINT; 0 after a clean flush.

    CaptureError (exit status 2) when the interface does not exist or cannot be captured on.
    """
    workers = f"{config.workers} capture processes" if config.workers > 1 else "one process"
    log.info("site %s: capturing on %s, %s", policy.site, config.capture.interface, workers)
    if config.workers > 1:
        from monitor.live.workers import WorkerPool, fanout_group_id

        group = fanout_group_id()
        shares = [worker_handles(config.capture, group) for _ in range(config.workers)]
        open_early(shares)  # all N join the group now, before any worker reads
        return WorkerPool(config, policy, shares, group).run()
    handles = worker_handles(config.capture, None)
    open_early([handles])
    return SingleSensor(config, policy, load_catalog(), handles).run()


class SingleSensor:
    """One capture loop in this process; also the loop's hooks."""

    def __init__(
        self,
        config: LiveConfig,
        policy: Policy,
        catalog: VendorCatalog,
        handles: Handles | None = None,
    ) -> None:
        self.config = config
        self.handles = handles or worker_handles(config.capture, None)
        self.state = SensorState(policy.site)
        iface = config.capture.interface
        self.readiness = Readiness(iface, 1)
        self.state.readiness = self.readiness
        self.state.workers = (0, 1, 0)
        self.published = Published(iface, config.stale_after)
        self.alerts = self.state.open_alerts(config, policy)
        self.pipeline = Pipeline(
            policy, catalog, config.settings, interface=iface, on_finding=self.found
        )
        if self.alerts.eve is not None:  # --eve: flow events as flows end
            self.pipeline.flow_sink = self.alerts.eve.flow_events
        self.signals = Signals()
        self.loop: CaptureLoop | None = None
        self.server: MetricsServer | None = None

    def run(self) -> int:
        """Serve metrics, capture until told to stop, flush; 0 on a clean stop."""
        config = self.config
        evidence = None
        if config.evidence is not None:
            evidence = EvidenceSink(config.evidence, config.capture.snaplen)
        self.loop = CaptureLoop(
            self.pipeline,
            self.handles.capture,
            self,
            evidence=evidence,
            wake_fd=self.signals.wake_fd,
        )
        self.published.update(self.loop.snapshot(), CaptureStatus())  # up 0 until it reads
        self.server = server = start_exporter(config, self.published, self.state)
        self.signals.install()
        try:
            self.loop.run()
        finally:
            self.signals.restore()
            self.alerts.close()
            server.shutdown()
        log.info(
            "stopped: %d packets, %d findings; %s",
            self.pipeline.packets,
            self.alerts.findings,
            self.alerts.summary(),
        )
        return 0

    def found(self, finding: Finding) -> None:
        """The pipeline's finding callback: into the alert log; metrics kept fresh."""
        self.alerts.add(finding)
        if self.loop is not None:
            self.loop.keep_alive()

    # -- LoopHooks ----------------------------------------------------------------------
    def poll(self, loop: CaptureLoop) -> None:
        """Act on SIGHUP (reload the policy and the web config) and SIGTERM/SIGINT (stop)."""
        if self.signals.take_reload():
            policy = load_new_policy(self.config.policy_path, self.state.reload)
            if policy is not None:
                apply_policy(loop.pipeline, policy)
                self.state.site = policy.site
                self.alerts.max_keys = policy.limits.findings_per_device
            reload_web_config(self.server, self.state.reload)
        if self.signals.stop:
            self.readiness.stop()
            loop.stop()

    def publish(self, snapshot: Snapshot, status: CaptureStatus, final: bool) -> None:
        """Publish for scrapes; write held-back alerts whose throttle window has passed."""
        if self.loop is not None and self.loop.evidence is not None:
            self.state.evidence_write_errors = self.loop.evidence.write_errors
        capturing = 1 if status.open else 0
        self.state.workers = (capturing, 1, 0)
        self.published.update(snapshot, status)
        self.readiness.update(capturing, 1)  # READY=1 once a scrape shows it too
        if snapshot.ts is not None and not final:
            self.alerts.flush_due(snapshot.ts)
