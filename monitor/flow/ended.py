"""Where ended flows go besides the counters: the seam for per-flow event logs (EVE).

The pipeline calls a :class:`FlowEndSink`, when it has one, once for every flow that
ends for good (not at an active timeout, where a flow goes on): with the FlowState, or
with a batch of light flow rows (no Python object per flow; the rows are still readable
and freed after the call).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from monitor.flow.light import LightFlows
from monitor.flow.state import FlowState
from monitor.model import EndReason


class FlowEndSink(Protocol):
    """Takes every flow at its end (see the module docstring)."""

    def flow(self, flow: FlowState, reason: EndReason) -> None:
        """One flow ended (settled, findings raised)."""

    def rows(self, light: LightFlows, slots: npt.NDArray[np.int64], reason: EndReason) -> None:
        """Light flows ``slots`` of ``light`` ended (settled, findings raised)."""
