"""``live --eve FILE``: EVE alert lines beside the alert log's, and flow events.

The alert log (:class:`~monitor.live.alerts.AlertLog`) decides which findings get a line
(keys, throttle, summaries, line rate); every finding or summary line it writes gets an
EVE alert here too, so both files say the same at the same time. ``held_back`` lines
(findings the rate cut) have no EVE form: they stay in the alert log only.

Flow events are written when flows end: of every flow (``--eve-flows all``), of flows
with a finding (``flagged``, the default: a sensor runs for months, and a site of dozens
of cameras opens millions of ordinary flows) or of none. A scan flags every flow it makes,
so flow events are bounded too: at most ``--eve-flows-rate`` a second (wall time, bursts of
BURST_SECONDS worth; shared out among capture workers); those over it are not worded, and
their number is logged at most once a minute while it lasts, and at the stop.

Lines go through the alert log's whole-line writer (:class:`~monitor.live.sink.LineSink`):
whole or not at all, a bounded wait while the disk is full, losses counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from monitor.flow.light import LightFlows
from monitor.flow.state import FlowState
from monitor.live.sink import LineSink
from monitor.model import EndReason, Finding
from monitor.report.eve import alert_event, dumps
from monitor.report.eve_flows import flow_line, row_chunks

log = logging.getLogger(__name__)
FLOW_MODES = ("all", "flagged", "none")
DEFAULT_FLOW_RATE = 200.0  # flow events per second of wall time (0: no limit)
BURST_SECONDS = 10.0
REPORT_SECONDS = 60.0
Lines = Callable[[list[str]], None]


class Budget:
    """At most ``rate`` items a second of ``clock`` time, bursts of BURST_SECONDS worth
    (``rate`` 0: no limit)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = max(float(rate), 0.0)
        self.burst = max(self.rate * BURST_SECONDS, 1.0)
        self.clock = clock
        self._tokens = self.burst
        self._at = clock()

    def take(self, wanted: int) -> int:
        """How many of ``wanted`` items may go now (those are spent)."""
        if self.rate <= 0:
            return wanted
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + max(now - self._at, 0.0) * self.rate)
        self._at = now
        granted = min(wanted, int(self._tokens))
        self._tokens -= granted
        return granted


class FlowEvents:
    """The pipeline's FlowEndSink for ``live``: words the flow events ``mode`` wants
    (``all``, ``flagged`` or ``none``) and hands them to ``out`` (``site``: each line's
    ``host``)."""

    def __init__(
        self,
        mode: str,
        site: Callable[[], str],
        out: Lines,
        uid_prefix: str = "",
        rate: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in FLOW_MODES:
            raise ValueError(f"--eve-flows {mode}: must be one of {', '.join(FLOW_MODES)}")
        self.mode = mode
        self.site = site
        self.out = out
        self.uid_prefix = uid_prefix  # a capture worker's (its findings' flow_uid have it)
        self.budget = Budget(rate, clock)
        self.cut = 0  # flow events over the rate, not written
        self._reported = 0
        self._next_report = 0.0

    def flow(self, flow: FlowState, reason: EndReason) -> None:
        """A flow ended: its flow event, if wanted (and the rate allows)."""
        if self.mode == "all" or (self.mode == "flagged" and flow.finding_kinds):
            if self.budget.take(1):
                self.out([flow_line(flow, reason, self.site(), self.uid_prefix)])
            else:
                self._cut(1)

    def rows(self, light: LightFlows, slots: npt.NDArray[np.int64], reason: EndReason) -> None:
        """Light flows ended: their flow events, if wanted (as many as the rate allows)."""
        if self.mode == "none":
            return
        if self.mode == "flagged":
            slots = slots[light.cols["flagged"][slots]]
        allowed = self.budget.take(int(slots.size))
        if allowed < slots.size:
            self._cut(int(slots.size) - allowed)
        if allowed:
            for lines in row_chunks(light, slots[:allowed], reason, self.site(), self.uid_prefix):
                self.out(lines)

    def _cut(self, count: int) -> None:
        self.cut += count
        self.report()

    def report(self, force: bool = False) -> None:
        """Log the flow events cut since the last report (at most once a minute, unless
        ``force``: at the stop)."""
        now = self.budget.clock()
        if self.cut > self._reported and (force or now >= self._next_report):
            log.warning(
                "EVE log: %d flow events over --eve-flows-rate (%g a second%s) not written; "
                "%d in all", self.cut - self._reported, self.budget.rate,
                " in this capture worker" if self.uid_prefix else "", self.cut,
            )  # fmt: skip
            self._reported, self._next_report = self.cut, now + REPORT_SECONDS


class EveRelay(FlowEvents):
    """A capture worker's flow events (``--workers N``), worded in the worker and sent to
    the parent, which writes them, in batches: ``send`` gets at most ``batch`` lines at
    once, and what is left at :meth:`flush` (the worker's once-a-second message)."""

    def __init__(
        self,
        mode: str,
        site: Callable[[], str],
        send: Lines,
        uid_prefix: str,
        rate: float = 0.0,
        batch: int = 1024,
    ) -> None:
        super().__init__(mode, site, self._keep, uid_prefix, rate)
        self.send = send
        self.batch = batch
        self._lines: list[str] = []

    def _keep(self, lines: list[str]) -> None:
        self._lines += lines
        while len(self._lines) >= self.batch:
            chunk, self._lines = self._lines[: self.batch], self._lines[self.batch :]
            self.send(chunk)

    def flush(self, final: bool = False) -> None:
        """Send what is waiting (``final``: at the stop, also say what was cut)."""
        if self._lines:
            lines, self._lines = self._lines, []
            self.send(lines)
        if final:
            self.report(force=True)


class EveLog:
    """Appends EVE lines to ``path``; ``site`` names the sensor (each line's ``host``).

    ``flows`` and ``flow_rate`` are ``--eve-flows`` and ``--eve-flows-rate``;
    :attr:`flow_events` is the pipeline's flow sink (None for ``none``).
    """

    def __init__(
        self,
        path: str,
        site: Callable[[], str],
        flows: str = "flagged",
        flow_rate: float = DEFAULT_FLOW_RATE,
    ) -> None:
        self.path = path
        self.site = site
        self.flow_events: FlowEvents | None = None
        if flows != "none":
            self.flow_events = FlowEvents(flows, site, self.put_flows, rate=flow_rate)
        self.alerts = 0
        self.flows = 0
        self._sink = LineSink(path, "EVE log")

    @property
    def write_errors(self) -> int:
        """Failed writes to the file (retries included)."""
        return self._sink.write_errors

    def alert(self, finding: Finding, count: int, record: str) -> None:
        """The EVE alert of a line the alert log wrote (``count`` findings it stands for)."""
        event = alert_event(finding, self.site(), record=record, count=count)
        self._sink.put(dumps(event).encode("utf-8"), count)
        self.alerts += 1

    def put_flows(self, lines: Iterable[str]) -> None:
        """Append flow event lines (worded here or by a capture worker)."""
        for line in lines:
            self._sink.put(line.encode("utf-8"), 0)  # stands for no finding
            self.flows += 1

    # -- time and the end ---------------------------------------------------------------
    def retry(self) -> None:
        """Lines waiting for disk space get another try (if the retry timer says so)."""
        self._sink.retry()

    def close(self) -> None:
        """Write what waits if possible, sync and close (idempotent)."""
        if self.flow_events is not None:
            self.flow_events.report(force=True)
        self._sink.close()

    def summary(self) -> str:
        """One sentence for the stop log."""
        cut = self.flow_events.cut if self.flow_events is not None else 0
        return (
            f"EVE: {self.alerts:,} alerts and {self.flows:,} flow events "
            f"({cut:,} over --eve-flows-rate not written); {self._sink.summary()}"
        )
