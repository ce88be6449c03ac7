"""What the flow table hands back per batch (its knobs: :mod:`monitor.flow.settings`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.flow.state import FlowState
from monitor.model import EndReason

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


@dataclass(slots=True)
class BatchResult:
    """What a batch did: flows it started, flows still waiting for their verdict that it
    touched, flows it ended early, and which frames to dissect.

    ``frame_group[i]`` indexes ``group_flow`` for IP frame ``i`` (-1 for other frames);
    ``frame_low[i]`` says whether its sender is the canonical low endpoint. A group kept
    as a light flow has None in ``group_flow`` and its slot in ``group_light``;
    ``light_new`` and ``light_touched`` are the light slots it created and counted,
    ``light_ended`` those it ended (detached, freed by the caller), ``promoted`` the light
    flows that showed payload and became FlowStates.
    """

    new: list[FlowState]
    pending: list[FlowState]
    ended: list[tuple[FlowState, EndReason]]
    group_flow: list[FlowState | None]
    frame_group: I64
    head_mask: npt.NDArray[np.bool_]
    frame_low: npt.NDArray[np.bool_]
    group_light: I64 = field(default_factory=lambda: _NO_SLOTS)
    light_new: I64 = field(default_factory=lambda: _NO_SLOTS)
    light_touched: I64 = field(default_factory=lambda: _NO_SLOTS)
    light_ended: list[tuple[I64, EndReason]] = field(default_factory=list)
    promoted: list[FlowState] = field(default_factory=list)

    def flow_of(self, i: int) -> FlowState | None:
        """The flow frame ``i`` belongs to, if it is an IP frame of a FlowState."""
        g = int(self.frame_group[i])
        return self.group_flow[g] if g >= 0 else None


_NO_SLOTS: I64 = np.zeros(0, dtype=np.int64)
LightGate = Callable[[U64, U64, I64, I64], npt.NDArray[np.bool_]]
