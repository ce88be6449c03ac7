"""``--workers N``: N capture processes in one kernel fanout group, merged by the parent.

The parent opens the N fanout handles (``PACKET_FANOUT_HASH``: both directions of a flow
land on the same worker) and the DNS side captures before anything slow, forks the
workers (``monitor/live/worker.py``), which inherit them, and only then starts the metrics
endpoint. It merges the snapshots the workers send for the exporter and writes all their
findings to the one alert log. ``cctv_capture_up`` is 1, the landing page says
"capturing" and systemd hears ``READY=1`` only once every worker reads its share.

A worker that dies is started again (at once the first time, then after 1, 2, 4 ... up
to 30 s while it keeps dying within a minute of its start) and opens its own handles;
what it had counted stays in the totals, what it had read but not yet reported, the
frames still in its buffer and its open flows are lost (docs/live.md, section 8).
Policy reloads go from the parent to each worker's control queue; SIGTERM/SIGINT make
every worker end its flows and send a final message before the parent exits.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
import time
from dataclasses import replace
from typing import Any

from monitor.config import Policy
from monitor.counters import Snapshot
from monitor.exporter.server import MetricsServer
from monitor.live.channel import Inbox
from monitor.live.evidence import EvidenceOptions
from monitor.live.health import CaptureStatus, combine
from monitor.live.merge import DeviceRole, merge_snapshots, record_sightings, with_devices
from monitor.live.notify import Readiness
from monitor.live.reload import load_new_policy, reload_web_config
from monitor.live.runtime import LiveConfig, Published, SensorState, Signals, start_exporter
from monitor.live.startup import Handles
from monitor.live.worker import (  # noqa: F401  (re-exported: the pool's half of the queues)
    FINDINGS_PER_MESSAGE,
    Closable,
    FindingRow,
    WorkerSpec,
    _WorkerHooks,
    worker_main,
)
from monitor.model import CaptureError, Finding

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 30.0
POLL_SECONDS = 0.2
RESTART_MAX_SECONDS = 30.0
QUICK_DEATH_SECONDS = 60.0  # a worker dying sooner than this after its start waits longer


def fanout_group_id() -> int:
    """A fanout group id of this sensor's own (16 bits: the process id's low bits)."""
    return os.getpid() & 0xFFFF


class WorkerPool:
    """The parent: starts the workers, merges what they send, serves metrics, writes alerts."""

    def __init__(
        self,
        config: LiveConfig,
        policy: Policy,
        handles: list[Handles] | None = None,
        group: int | None = None,
    ) -> None:
        self.config = config
        self.policy = policy
        self.handles = handles or []  # opened by the caller, one per worker: they inherit them
        self.group = fanout_group_id() if group is None else group
        self.state = SensorState(policy.site)
        self.readiness = Readiness(config.capture.interface, config.workers)
        self.state.readiness = self.readiness
        self.published = Published(config.capture.interface, config.stale_after)
        self.alerts = self.state.open_alerts(config, policy)
        self.roles: dict[str, DeviceRole] = {}  # host -> (vendor, role), from all workers
        self.signals = Signals()
        self.ctx = mp.get_context("spawn")  # restarts: the parent has threads by then
        self.results = Inbox()  # one pipe per worker
        self.controls: dict[int, Any] = {}
        self.procs: dict[int, Any] = {}
        self.started_at: dict[int, float] = {}  # monotonic
        self.latest: dict[int, Snapshot] = {}
        self.taken: dict[int, float] = {}  # when each worker took its latest snapshot
        self.statuses: dict[int, CaptureStatus] = {}
        self.evidence_errors: dict[int, int] = {}  # failed evidence writes per worker
        self.retired: Snapshot | None = None  # the counters of workers that died
        self.retired_evidence_errors = 0
        self.restarts = 0
        self.quick_deaths: dict[int, int] = {}
        self.restart_at: dict[int, float] = {}  # dead workers to start again (monotonic)
        self.done: set[int] = set()
        self.error: str | None = None
        self.server: MetricsServer | None = None
        self.monotonic = time.monotonic  # the restart schedule's clock (tests set it)

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; 0 after every worker flushed.

        CaptureError (exit status 2) when a worker could not capture, or died while stopping.
        """
        try:
            self._start_workers()
        finally:
            for handles in self.handles:
                handles.close()  # the parent's copies: each worker holds its own
        self._publish()  # cctv_capture_up 0 until every worker reads
        self.server = server = start_exporter(self.config, self.published, self.state)
        self.signals.install()
        try:
            self._serve()
        finally:
            self.signals.restore()
            self._reap()
            self.alerts.close()
            server.shutdown()
        if self.error is not None:
            raise CaptureError(self.error)
        snap = self.published.snapshot
        packets = snap.counters.capture_packets.total() if snap is not None else 0
        log.info(
            "stopped: %d packets, %d findings; %s",
            packets,
            self.alerts.findings,
            self.alerts.summary(),
        )
        return 0

    def _start_workers(self) -> None:
        # Forked, they inherit the open handles; a fork is safe only without threads.
        fork = len(self.handles) == self.config.workers and threading.active_count() == 1
        for index in range(self.config.workers):
            self._launch(index, fork)

    def _launch(self, index: int, fork: bool) -> None:
        c = self.config
        spec = WorkerSpec(
            index=index,
            capture=replace(c.capture, fanout_group=self.group),
            policy=self.policy,
            settings=c.settings,
            evidence=_share(c.evidence, index, c.workers),
            eve_flows=c.eve_flows if c.eve_path else "none",
            eve_flows_rate=c.eve_flows_rate / c.workers,  # each its share
            log_level=logging.getLogger().getEffectiveLevel(),
        )
        control = self.ctx.Queue()
        reader, writer = mp.Pipe(duplex=False)
        name = f"cctv-capture-{index}"
        proc: Any
        if fork:  # it closes what it inherits of the others, and its read end
            others: list[Closable] = [h for i, h in enumerate(self.handles) if i != index]
            others += [*self.results.readers.values(), reader]
            args = (spec, control, writer, self.handles[index], others)
            proc = mp.get_context("fork").Process(target=worker_main, args=args, name=name)
        else:
            proc = self.ctx.Process(target=worker_main, args=(spec, control, writer), name=name)
        proc.start()
        writer.close()  # the worker holds the write end: its pipe ends when it does
        self.results.add(index, reader)
        self.controls[index], self.procs[index] = control, proc
        self.started_at[index] = self.monotonic()

    def _serve(self) -> None:
        deadline: float | None = None
        while len(self.done) < self.config.workers:
            if self.signals.take_reload():
                self._reload()
                reload_web_config(self.server, self.state.reload)
            if deadline is None and (self.signals.stop or self.error is not None):
                deadline = time.monotonic() + STOP_GRACE_SECONDS
                self._stop_workers()
            if deadline is not None and time.monotonic() > deadline:
                log.error("workers did not flush within %.0f s", STOP_GRACE_SECONDS)
                return
            for msg in self.results.get(timeout=POLL_SECONDS):
                self._handle(msg)
            self._check_alive(stopping=deadline is not None)
            self._restart_due()

    def _stop_workers(self) -> None:
        self.readiness.stop()
        self.done.update(self.restart_at)  # a dead worker is not started again now
        self.restart_at.clear()
        for index, control in self.controls.items():
            if index not in self.done:
                control.put(("stop",))

    def _handle(self, msg: tuple[Any, ...]) -> None:
        if msg[0] == "error":
            self.error = self.error or f"worker {msg[1]}: {msg[2]}"
            self.done.add(msg[1])
            return
        if msg[0] == "eve":  # flow events a worker worded
            if self.alerts.eve is not None:
                self.alerts.eve.put_flows(msg[2])
            return
        if msg[0] == "findings":
            self._add_findings(msg[2])
            return
        _, index, snapshot, status, findings, sightings, final, taken, errors = msg
        if index in self.restart_at:
            return  # a message a dead worker sent before it died: what it counted is retired
        self.latest[index], self.statuses[index] = snapshot, status
        self.evidence_errors[index] = errors
        self.taken[index] = taken
        self._add_findings(findings)
        record_sightings(self.roles, sightings)
        if final:
            self.done.add(index)
        self._publish()
        ts = self.published.snapshot.ts if self.published.snapshot is not None else None
        if ts is not None and not final:
            self.alerts.flush_due(ts)

    def _publish(self) -> None:
        """Merge the workers' snapshots (and what dead ones counted) for the scrapes."""
        snaps = list(self.latest.values()) + ([self.retired] if self.retired else [])
        merged = with_devices(merge_snapshots(snaps, self.state.site), self.roles)
        iface = self.config.capture.interface
        c = merged.counters
        c.capture_packets[iface] += 0  # the series exist from the first scrape on
        c.capture_dropped[(iface, "kernel")] += 0
        c.capture_dropped[(iface, "interface")] += 0
        expected = self.config.workers
        # Until every worker has its handle open, part of the traffic is not watched.
        everyone = len(self.statuses) == expected
        status = combine(self.statuses.values()) if everyone else CaptureStatus()
        capturing = sum(1 for s in self.statuses.values() if s.open)
        self.state.workers = (capturing, expected, self.restarts)
        self.state.evidence_write_errors = self.retired_evidence_errors + sum(
            self.evidence_errors.values()
        )
        # As fresh as the stalest worker: one stuck worker shows in the age.
        self.published.update(merged, status, min(self.taken.values(), default=None))
        # Then READY=1: a scrape right after it shows the capture up.
        self.readiness.update(capturing, len(self.statuses), self.restarts)

    def _add_findings(self, rows: list[FindingRow]) -> None:
        for row in rows:
            self.alerts.add(Finding(*row))

    def _check_alive(self, stopping: bool) -> None:
        for index, proc in self.procs.items():
            if index in self.done or index in self.restart_at or proc.is_alive():
                continue
            self._drain()
            if index in self.done or self.error is not None:
                continue
            if stopping:
                self.error = f"worker {index} died while stopping (exit status {proc.exitcode})"
                log.error("%s: the flows it held are lost", self.error)
                self.done.add(index)
            else:
                self._retire(index, proc.exitcode)

    def _retire(self, index: int, exitcode: int | None) -> None:
        """A worker died: keep what it counted, start it again after a pause."""
        self.restarts += 1
        snap = self.latest.pop(index, None)
        if snap is not None:  # its counters stay; its flows (a gauge) are gone
            counters = replace(snap.counters, flow_table_entries=0)
            snaps = [replace(snap, counters=counters)] + ([self.retired] if self.retired else [])
            self.retired = merge_snapshots(snaps, self.state.site)
        self.statuses.pop(index, None)
        self.taken.pop(index, None)
        self.retired_evidence_errors += self.evidence_errors.pop(index, 0)
        now = self.monotonic()
        quick = now - self.started_at[index] < QUICK_DEATH_SECONDS
        deaths = self.quick_deaths.get(index, 0) + 1 if quick else 1
        self.quick_deaths[index] = deaths
        delay = 0.0 if deaths == 1 else min(2.0 ** (deaths - 2), RESTART_MAX_SECONDS)
        self.restart_at[index] = now + delay
        control = self.controls.pop(index)
        control.cancel_join_thread()  # nobody reads it any more
        control.close()
        log.error(
            "capture worker %d died (exit status %s); starting it again%s",
            index,
            exitcode,
            f" in {delay:.0f} s" if delay else "",
        )
        self._publish()

    def _restart_due(self) -> None:
        now = self.monotonic()
        for index, due in list(self.restart_at.items()):
            if now >= due:
                del self.restart_at[index]
                self._launch(index, fork=False)

    def _drain(self) -> None:
        while msgs := self.results.get(timeout=0.05):
            for msg in msgs:
                self._handle(msg)

    def _reload(self) -> None:
        policy = load_new_policy(self.config.policy_path, self.state.reload)
        if policy is None:
            return
        self.policy = policy
        self.state.site = policy.site
        self.alerts.max_keys = policy.limits.findings_per_device
        self.roles = {}  # every worker reports its hosts again under the new policy
        for control in self.controls.values():
            control.put(("policy", policy))

    def _reap(self) -> None:
        self._drain()
        for proc in self.procs.values():
            proc.join(timeout=5)
            if proc.is_alive():
                log.error("worker %s did not exit; terminating it", proc.name)
                proc.terminate()
                proc.join(timeout=5)
        self.results.close()


def _share(evidence: EvidenceOptions | None, index: int, workers: int) -> EvidenceOptions | None:
    """Each worker writes its own files, with its share of the total size cap."""
    if evidence is None:
        return None
    total = max(evidence.max_total_bytes // workers, 1 << 20)
    return replace(
        evidence,
        max_total_bytes=total,
        max_file_bytes=min(evidence.max_file_bytes, total),
        prefix=f"{evidence.prefix}-w{index}",
    )
