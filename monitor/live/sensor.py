"""The live sensor in one process: capture, exporter, alert log, SIGHUP reload, SIGTERM flush."""

from __future__ import annotations

import logging

from monitor.capture.live import LiveCapture
from monitor.classify.catalog import VendorCatalog, load_catalog
from monitor.config import Policy
from monitor.counters import Snapshot
from monitor.exporter.server import MetricsServer
from monitor.live.evidence import EvidenceSink
from monitor.live.health import CaptureStatus
from monitor.live.loop import CaptureLoop
from monitor.live.reload import apply_policy, load_new_policy, reload_web_config
from monitor.live.runtime import LiveConfig, Published, SensorState, Signals, start_exporter
from monitor.model import Finding
from monitor.pipeline import Pipeline

log = logging.getLogger(__name__)


def run_live(config: LiveConfig, policy: Policy) -> int:
    """Run the sensor until SIGTERM/SIGINT; 0 after a clean flush."""
    workers = f"{config.workers} capture processes" if config.workers > 1 else "one process"
    log.info("site %s: capturing on %s, %s", policy.site, config.capture.interface, workers)
    if config.workers > 1:
        from monitor.live.workers import WorkerPool

        return WorkerPool(config, policy).run()
    return SingleSensor(config, policy, load_catalog()).run()


class SingleSensor:
    """One capture loop in this process; also the loop's hooks."""

    def __init__(self, config: LiveConfig, policy: Policy, catalog: VendorCatalog) -> None:
        self.config = config
        self.state = SensorState(policy.site)
        iface = config.capture.interface
        self.published = Published(iface, config.stale_after)
        self.alerts = self.state.open_alerts(config, policy)
        self.pipeline = Pipeline(
            policy, catalog, config.settings, interface=iface, on_finding=self.found
        )
        self.signals = Signals()
        self.loop: CaptureLoop | None = None
        self.server: MetricsServer | None = None

    def run(self) -> int:
        """Serve metrics, capture until told to stop, flush; 0 on a clean stop."""
        config = self.config
        evidence = None
        if config.evidence is not None:
            evidence = EvidenceSink(config.evidence, config.capture.snaplen)
        self.server = server = start_exporter(config, self.published, self.state)
        self.signals.install()
        try:
            self.loop = CaptureLoop(
                self.pipeline,
                LiveCapture(config.capture),
                self,
                evidence=evidence,
                wake_fd=self.signals.wake_fd,
            )
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
            loop.stop()

    def publish(self, snapshot: Snapshot, status: CaptureStatus, final: bool) -> None:
        """Publish for scrapes; write held-back alerts whose throttle window has passed."""
        if self.loop is not None and self.loop.evidence is not None:
            self.state.evidence_write_errors = self.loop.evidence.write_errors
        self.published.update(snapshot, status)
        if snapshot.ts is not None and not final:
            self.alerts.flush_due(snapshot.ts)
