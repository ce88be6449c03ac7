"""One capture worker of ``--workers N``: its share of the interface into its own Pipeline.

A worker reads its fanout handle and its DNS side capture, and once a second puts one
small pickled message on its own results pipe (``monitor/live/channel.py``): its
snapshot, capture health, when it took the snapshot, the findings raised since the last
message and the closed-network hosts it saw for the first time. Under a flood the
findings go ahead in messages of at most FINDINGS_PER_MESSAGE, so that no message keeps
the parent busy for long. Policy reloads and the stop arrive on its control queue.

Workers started with the sensor are forked by the parent and inherit the handles it
opened (``monitor/live/startup.py``); a worker started again after one died opens its
own first thing, before it builds its pipeline, so that its share waits in the buffer.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing as mp
import operator
import queue
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any, Protocol

from monitor.capture.live import CaptureOptions
from monitor.classify.catalog import load_catalog
from monitor.config import Policy
from monitor.counters import Snapshot
from monitor.live.channel import Outbox
from monitor.live.eve_log import EveRelay
from monitor.live.evidence import EvidenceOptions, EvidenceSink
from monitor.live.health import CaptureStatus
from monitor.live.loop import CaptureLoop
from monitor.live.merge import DeviceRole, new_sightings
from monitor.live.reload import apply_policy
from monitor.live.startup import Handles, open_early, worker_handles
from monitor.model import CaptureError, Finding
from monitor.pipeline import Pipeline, PipelineSettings

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2
FINDINGS_PER_MESSAGE = 2048
# Findings cross the queue as plain tuples of their fields: a third of the pickling cost
# of the dataclass, which counts when a flood raises one per flow.
_FINDING_ROW = operator.attrgetter(*(f.name for f in dataclasses.fields(Finding)))
FindingRow = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What one worker process needs (pickled to it when it is spawned)."""

    index: int
    capture: CaptureOptions  # with the fanout group
    policy: Policy
    settings: PipelineSettings
    evidence: EvidenceOptions | None
    log_level: int
    eve_flows: str = "none"  # --eve-flows with --eve: flow events worded here, written there
    eve_flows_rate: float = 0.0  # its share of --eve-flows-rate


class Closable(Protocol):
    """An inherited resource a worker closes at once (another worker's handles or pipe)."""

    def close(self) -> None:
        """Release it."""


def worker_main(
    spec: WorkerSpec,
    control: Any,
    results: Connection,
    handles: Handles | None = None,
    others: Sequence[Closable] = (),
) -> None:
    """Entry point of a capture worker process; it reports on its own pipe, ``results``.

    ``handles``: its captures, already open (inherited from the parent), or None to open
    them here; ``others``: what it inherited of the other workers, closed at once.
    """
    _log_as_worker(spec)
    outbox = Outbox(results)
    hooks = _WorkerHooks(spec.index, control, outbox)
    signal.signal(signal.SIGTERM, hooks.on_signal)
    signal.signal(signal.SIGINT, hooks.on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the parent reloads and sends the policy
    for other in others:
        other.close()
    try:
        _capture(spec, hooks, handles)
    except CaptureError as exc:
        outbox.put(("error", spec.index, str(exc)))
    finally:
        outbox.close()


def _capture(spec: WorkerSpec, hooks: _WorkerHooks, handles: Handles | None) -> None:
    if handles is None:
        c = spec.capture
        handles = worker_handles(replace(c, fanout_group=None), c.fanout_group)
        open_early([handles])  # join the group now: the share waits in the buffer
    pipeline = Pipeline(
        spec.policy,
        load_catalog(),
        spec.settings,
        interface=spec.capture.interface,
        on_finding=hooks.found,
    )
    hooks.pipeline = pipeline
    if spec.eve_flows != "none":
        send = lambda lines: hooks.results.put(("eve", spec.index, lines))  # noqa: E731
        site = lambda: pipeline.policy.site  # noqa: E731
        hooks.eve = EveRelay(spec.eve_flows, site, send, f"w{spec.index}-", spec.eve_flows_rate)
        pipeline.flow_sink = hooks.eve
    evidence = None
    if spec.evidence is not None:
        evidence = EvidenceSink(spec.evidence, spec.capture.snaplen)
    loop = CaptureLoop(
        pipeline,
        handles.capture,
        hooks,
        evidence=evidence,
        names_capture=handles.names,
        interface_drops=spec.index == 0,  # the interface's own counter: report it once
    )
    hooks.loop = loop
    loop.run()


def _log_as_worker(spec: WorkerSpec) -> None:
    """Log lines say which worker wrote them (a forked worker keeps the parent's handlers)."""
    fmt = logging.Formatter(f"cctv-monitor[w{spec.index}]: %(levelname)s: %(message)s")
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=spec.log_level)
    root.setLevel(spec.log_level)
    for handler in root.handlers:
        handler.setFormatter(fmt)


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
        self.eve: EveRelay | None = None  # --eve: this worker's flow events

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
        if self.eve is not None:
            self.eve.flush(final)
        findings, self.findings = self.findings, []
        sightings = new_sightings(self.pipeline.devices, self.reported)
        evidence = self.loop.evidence if self.loop is not None else None
        errors = evidence.write_errors if evidence is not None else 0
        now = time.time()
        msg = ("snapshot", self.index, snapshot, status, findings, sightings, final, now, errors)
        self.results.put(msg)
