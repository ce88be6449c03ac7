"""``replay --eve FILE``: the EVE lines of an audit, written as the replay goes.

Flow events are written as flows end (a flood's million flows are never held in memory),
then, when the replay is done and findings are final, one alert per finding in the
report's order. The file is written through a large buffer: a replay can end millions
of flows.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from monitor.flow.light import LightFlows
from monitor.flow.state import FlowState
from monitor.model import EndReason, Finding
from monitor.report.eve import alert_event, dumps
from monitor.report.eve_flows import flow_line, row_chunks

BUFFER_BYTES = 1 << 20


class EveFile:
    """Writes EVE lines to ``path`` (truncated); the pipeline's flow sink while it runs.

    ``host`` is the site (each line's ``host``). ``flows`` and ``alerts`` count the lines.
    """

    def __init__(self, path: str, host: str) -> None:
        self.path = path
        self.host = host
        self.flows = 0
        self.alerts = 0
        self._fp = open(path, "wb", buffering=BUFFER_BYTES)  # noqa: SIM115

    def flow(self, flow: FlowState, reason: EndReason) -> None:
        """A flow ended: its flow event."""
        self._fp.write(flow_line(flow, reason, self.host).encode("utf-8"))
        self.flows += 1

    def rows(self, light: LightFlows, slots: npt.NDArray[np.int64], reason: EndReason) -> None:
        """Light flows ended: their flow events."""
        for lines in row_chunks(light, slots, reason, self.host):
            self._fp.write("".join(lines).encode("utf-8"))
            self.flows += len(lines)

    def take(self, parts: Sequence[tuple[Iterable[bytes], Sequence[tuple[int, float]]]]) -> None:
        """Flow events worded by the partitions of ``replay --jobs``: each part's lines and
        an order key per line (the batch its flow ended in, its first packet time). Written
        in key order, partition by partition on ties: the order one process ends flows in."""
        streams = [zip(order, lines, strict=True) for lines, order in parts]
        for _, line in heapq.merge(*streams, key=lambda item: item[0]):
            self._fp.write(line)
            self.flows += 1

    def write_alerts(self, findings: list[Finding]) -> None:
        """One alert per finding, in the given order."""
        for f in findings:
            self._fp.write(dumps(alert_event(f, self.host)).encode("utf-8"))
        self.alerts += len(findings)

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if not self._fp.closed:
            self._fp.close()
