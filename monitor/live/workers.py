"""``--workers N``: N capture processes in one kernel fanout group, merged by the parent.

Each worker opens the interface with ``PACKET_FANOUT_HASH`` (both directions of a flow
land on the same worker), runs its own Pipeline and, once a second, puts one small
pickled message on a queue: its snapshot, capture health, when it took the snapshot,
the findings raised since the last message and the closed-network hosts it saw for the
first time. Under a flood the findings go ahead in messages of at most
FINDINGS_PER_MESSAGE, so that no message keeps the parent busy for long. The parent
merges the snapshots for the exporter and writes all findings to the one alert log.
Policy reloads go from the parent to each worker's control queue; SIGTERM/SIGINT make
every worker end its flows and send a final message before the parent exits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing as mp
import operator
import os
import queue
import signal
import time
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

from monitor.capture.live import CaptureOptions, LiveCapture
from monitor.classify.catalog import load_catalog
from monitor.config import Policy
from monitor.counters import Snapshot
from monitor.exporter.server import MetricsServer
from monitor.live.evidence import EvidenceOptions, EvidenceSink
from monitor.live.health import CaptureStatus, combine
from monitor.live.loop import CaptureLoop
from monitor.live.merge import (
    DeviceRole,
    merge_snapshots,
    new_sightings,
    record_sightings,
    with_devices,
)
from monitor.live.names import dns_filter
from monitor.live.reload import apply_policy, load_new_policy, reload_web_config
from monitor.live.runtime import LiveConfig, Published, SensorState, Signals, start_exporter
from monitor.model import CaptureError, Finding
from monitor.pipeline import Pipeline, PipelineSettings

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 30.0
POLL_SECONDS = 0.2
FINDINGS_PER_MESSAGE = 2048
# Findings cross the queue as plain tuples of their fields: a third of the pickling cost
# of the dataclass, which counts when a flood raises one per flow.
_FINDING_ROW = operator.attrgetter(*(f.name for f in dataclasses.fields(Finding)))
FindingRow = tuple[Any, ...]
NAMES_BUFFER_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What one worker process needs (pickled to it at start)."""

    index: int
    capture: CaptureOptions
    user_bpf: str | None
    policy: Policy
    settings: PipelineSettings
    evidence: EvidenceOptions | None
    log_level: int


def worker_main(spec: WorkerSpec, control: Any, results: Any) -> None:
    """Entry point of a capture worker process."""
    logging.basicConfig(
        level=spec.log_level, format=f"cctv-monitor[w{spec.index}]: %(levelname)s: %(message)s"
    )
    hooks = _WorkerHooks(spec.index, control, results)
    signal.signal(signal.SIGTERM, hooks.on_signal)
    signal.signal(signal.SIGINT, hooks.on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the parent reloads and sends the policy
    pipeline = Pipeline(
        spec.policy,
        load_catalog(),
        spec.settings,
        interface=spec.capture.interface,
        on_finding=hooks.found,
    )
    hooks.pipeline = pipeline
    c = spec.capture
    names = CaptureOptions(
        c.interface, c.snaplen, NAMES_BUFFER_BYTES, dns_filter(spec.user_bpf), timeout_ms=1
    )
    evidence = EvidenceSink(spec.evidence, c.snaplen) if spec.evidence is not None else None
    loop = CaptureLoop(
        pipeline,
        LiveCapture(c),
        hooks,
        evidence=evidence,
        names_capture=LiveCapture(names),
        interface_drops=spec.index == 0,  # the interface's own counter: report it once
    )
    hooks.loop = loop
    try:
        loop.run()
    except CaptureError as exc:
        results.put(("error", spec.index, str(exc)))


class _WorkerHooks:
    """The worker side of the queues."""

    def __init__(self, index: int, control: Any, results: Any) -> None:
        self.index = index
        self.control = control
        self.results = results
        self.pipeline: Pipeline | None = None
        self.loop: CaptureLoop | None = None
        self.findings: list[FindingRow] = []
        self.reported: dict[str, DeviceRole] = {}
        self.stop = False
        self._next_poll = 0.0

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop = True

    def found(self, finding: Finding) -> None:
        finding.flow_uid = f"w{self.index}-{finding.flow_uid}"  # flow ids are per worker
        self.findings.append(_FINDING_ROW(finding))
        if len(self.findings) >= FINDINGS_PER_MESSAGE:
            findings, self.findings = self.findings, []
            self.results.put(("findings", self.index, findings))
        if self.loop is not None:
            self.loop.keep_alive()

    def poll(self, loop: CaptureLoop) -> None:
        now = time.monotonic()
        if self.stop:
            loop.stop()
        if now >= self._next_poll:
            self._next_poll = now + POLL_SECONDS
            parent = mp.parent_process()
            if parent is not None and not parent.is_alive():
                log.error("the sensor's parent process is gone; stopping")
                self.results.cancel_join_thread()  # nobody will read what is still queued
                loop.stop()
        while True:  # at every turn (a cheap poll of a pipe): a stop must not wait
            try:
                msg = self.control.get_nowait()
            except queue.Empty:
                return
            if msg[0] == "policy":
                apply_policy(loop.pipeline, msg[1])
                self.reported = {}  # the parent starts its device view afresh
            elif msg[0] == "stop":
                loop.stop()

    def publish(self, snapshot: Snapshot, status: CaptureStatus, final: bool) -> None:
        assert self.pipeline is not None
        findings, self.findings = self.findings, []
        sightings = new_sightings(self.pipeline.devices, self.reported)
        evidence = self.loop.evidence if self.loop is not None else None
        errors = evidence.write_errors if evidence is not None else 0
        now = time.time()
        msg = ("snapshot", self.index, snapshot, status, findings, sightings, final, now, errors)
        self.results.put(msg)


class WorkerPool:
    """The parent: starts the workers, merges what they send, serves metrics, writes alerts."""

    def __init__(self, config: LiveConfig, policy: Policy) -> None:
        self.config = config
        self.policy = policy
        self.state = SensorState(policy.site)
        self.published = Published(config.capture.interface, config.stale_after)
        self.alerts = self.state.open_alerts(config, policy)
        self.roles: dict[str, DeviceRole] = {}  # host -> (vendor, role), from all workers
        self.signals = Signals()
        self.ctx = mp.get_context("spawn")  # no fork of a process with threads
        self.results: Any = self.ctx.Queue()
        self.controls: list[Any] = []
        self.procs: list[Any] = []
        self.latest: dict[int, Snapshot] = {}
        self.taken: dict[int, float] = {}  # when each worker took its latest snapshot
        self.statuses: dict[int, CaptureStatus] = {}
        self.evidence_errors: dict[int, int] = {}  # failed evidence writes per worker
        self.done: set[int] = set()
        self.error: str | None = None
        self.server: MetricsServer | None = None

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; 0 after every worker flushed.

        CaptureError (exit status 2) when a worker could not capture or died.
        """
        self.server = server = start_exporter(self.config, self.published, self.state)
        self.signals.install()
        try:
            self._start_workers()
            self._serve()
        finally:
            self.signals.restore()
            self._reap()
            self.alerts.close()
            server.shutdown()
        if self.error is not None:
            raise CaptureError(self.error)
        packets = sum(s.counters.capture_packets.total() for s in self.latest.values())
        log.info(
            "stopped: %d packets, %d findings; %s",
            packets,
            self.alerts.findings,
            self.alerts.summary(),
        )
        return 0

    def _start_workers(self) -> None:
        c = self.config
        group = os.getpid() & 0xFFFF
        for index in range(c.workers):
            spec = WorkerSpec(
                index=index,
                capture=replace(c.capture, fanout_group=group),
                user_bpf=c.capture.bpf,
                policy=self.policy,
                settings=c.settings,
                evidence=_share(c.evidence, index, c.workers),
                log_level=logging.getLogger().getEffectiveLevel(),
            )
            control = self.ctx.Queue()
            proc = self.ctx.Process(
                target=worker_main,
                args=(spec, control, self.results),
                name=f"cctv-capture-{index}",
            )
            proc.start()
            self.controls.append(control)
            self.procs.append(proc)

    def _serve(self) -> None:
        deadline: float | None = None
        while len(self.done) < len(self.procs):
            if self.signals.take_reload():
                self._reload()
                reload_web_config(self.server, self.state.reload)
            if deadline is None and (self.signals.stop or self.error is not None):
                deadline = time.monotonic() + STOP_GRACE_SECONDS
                for control in self.controls:
                    control.put(("stop",))
            if deadline is not None and time.monotonic() > deadline:
                log.error("workers did not flush within %.0f s", STOP_GRACE_SECONDS)
                return
            with contextlib.suppress(queue.Empty):
                self._handle(self.results.get(timeout=POLL_SECONDS))
            self._check_alive()

    def _handle(self, msg: tuple[Any, ...]) -> None:
        if msg[0] == "error":
            self.error = self.error or f"worker {msg[1]}: {msg[2]}"
            self.done.add(msg[1])
            return
        if msg[0] == "findings":
            self._add_findings(msg[2])
            return
        _, index, snapshot, status, findings, sightings, final, taken, errors = msg
        self.latest[index], self.statuses[index] = snapshot, status
        self.evidence_errors[index] = errors
        self.state.evidence_write_errors = sum(self.evidence_errors.values())
        self.taken[index] = taken
        self._add_findings(findings)
        record_sightings(self.roles, sightings)
        if final:
            self.done.add(index)
        merged = with_devices(
            merge_snapshots(list(self.latest.values()), self.state.site), self.roles
        )
        # Until every worker has its handle open, part of the traffic is not watched.
        everyone = len(self.statuses) == len(self.procs)
        status = combine(self.statuses.values()) if everyone else CaptureStatus()
        # As fresh as the stalest worker: one stuck worker shows in the age.
        self.published.update(merged, status, min(self.taken.values()))
        if merged.ts is not None and not final:
            self.alerts.flush_due(merged.ts)

    def _add_findings(self, rows: list[FindingRow]) -> None:
        for row in rows:
            self.alerts.add(Finding(*row))

    def _check_alive(self) -> None:
        for index, proc in enumerate(self.procs):
            if index not in self.done and not proc.is_alive() and self.error is None:
                self._drain()
                if index not in self.done:
                    self.error = f"worker {index} died (exit status {proc.exitcode})"
                    log.error("%s; stopping the sensor", self.error)

    def _drain(self) -> None:
        while True:
            try:
                self._handle(self.results.get(timeout=0.05))
            except queue.Empty:
                return

    def _reload(self) -> None:
        policy = load_new_policy(self.config.policy_path, self.state.reload)
        if policy is None:
            return
        self.policy = policy
        self.state.site = policy.site
        self.alerts.max_keys = policy.limits.findings_per_device
        self.roles = {}  # every worker reports its hosts again under the new policy
        for control in self.controls:
            control.put(("policy", policy))

    def _reap(self) -> None:
        self._drain()
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                log.error("worker %s did not exit; terminating it", proc.name)
                proc.terminate()
                proc.join(timeout=5)


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
