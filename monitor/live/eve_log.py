"""``live --eve FILE``: EVE alert lines beside the alert log's, and flow events.

The alert log (:class:`~monitor.live.alerts.AlertLog`) decides which findings get a line
(keys, throttle, summaries, line rate); every finding or summary line it writes gets an
EVE alert here too, so both files say the same at the same time. ``held_back`` lines
(findings the rate cut) have no EVE form: they stay in the alert log only.

Flow events are written when flows end: of every flow (``--eve-flows all``), of flows
with a finding (``flagged``, the default: a sensor runs for months, and a site of dozens
of cameras opens millions of ordinary flows) or of none.

Lines go through the alert log's whole-line writer (:class:`~monitor.live.sink.LineSink`):
whole or not at all, a bounded wait while the disk is full, losses counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from monitor.flow.light import LightFlows
from monitor.flow.state import FlowState
from monitor.live.sink import LineSink
from monitor.model import EndReason, Finding
from monitor.report.eve import alert_event, dumps
from monitor.report.eve_flows import flow_line, row_lines

FLOW_MODES = ("all", "flagged", "none")


class EveLog:
    """Appends EVE lines to ``path``; ``site`` names the sensor (each line's ``host``)."""

    def __init__(self, path: str, site: Callable[[], str], flows: str = "flagged") -> None:
        if flows not in FLOW_MODES:
            raise ValueError(f"--eve-flows {flows}: must be one of {', '.join(FLOW_MODES)}")
        self.path = path
        self.site = site
        self.flow_mode = flows
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

    # -- the pipeline's FlowEndSink -------------------------------------------------------
    def flow(self, flow: FlowState, reason: EndReason) -> None:
        """A flow ended: its flow event, if ``--eve-flows`` wants it."""
        if self.flow_mode == "all" or (self.flow_mode == "flagged" and flow.finding_kinds):
            self.put_flows([flow_line(flow, reason, self.site())])

    def rows(self, light: LightFlows, slots: npt.NDArray[np.int64], reason: EndReason) -> None:
        """Light flows ended: their flow events, if ``--eve-flows`` wants them."""
        if self.flow_mode == "none":
            return
        if self.flow_mode == "flagged":
            slots = slots[light.cols["flagged"][slots]]
        self.put_flows(row_lines(light, slots, reason, self.site()))

    def put_flows(self, lines: Iterable[str]) -> None:
        """Append flow event lines (made here or by a capture worker)."""
        for line in lines:
            self._sink.put(line.encode("utf-8"), 0)  # stands for no finding
            self.flows += 1

    # -- time and the end ---------------------------------------------------------------
    def retry(self) -> None:
        """Lines waiting for disk space get another try (if the retry timer says so)."""
        self._sink.retry()

    def close(self) -> None:
        """Write what waits if possible, sync and close (idempotent)."""
        self._sink.close()

    def summary(self) -> str:
        """One sentence for the stop log."""
        return f"EVE: {self.alerts:,} alerts and {self.flows:,} flow events; {self._sink.summary()}"
