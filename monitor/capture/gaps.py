"""Gaps in a capture: stretches of packet time longer than a threshold with no packet."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monitor.audit import MAX_GAPS_LISTED, GapSummary, TimeGap


class GapTracker:
    """Finds the gaps in a stream of timestamp batches (the merged stream of all inputs).

    Each batch is put in time order first if it is not; a packet that arrives more than
    a batch later than its time is not moved back (it may leave a gap listed that it
    fills). A threshold of None or 0 looks for nothing.
    """

    def __init__(self, threshold: float | None) -> None:
        self.summary = GapSummary(threshold if threshold and threshold > 0 else None)
        self._last: float | None = None

    def add(self, ts: npt.NDArray[np.float64]) -> None:
        """Account the timestamps of one batch."""
        threshold = self.summary.threshold
        if threshold is None or ts.size == 0:
            return
        step = np.diff(ts)
        t = ts
        if step.size and step.min() < 0:  # out of order: sorted first
            t = np.sort(ts)
            step = np.diff(t)
        if self._last is not None and float(t[0]) - self._last > threshold:
            self._note(self._last, float(t[0]))
        for i in np.flatnonzero(step > threshold).tolist():
            self._note(float(t[i]), float(t[i + 1]))
        last = float(t[-1])
        self._last = last if self._last is None else max(self._last, last)

    def _note(self, start: float, end: float) -> None:
        s = self.summary
        s.total += 1
        s.seconds += end - start
        s.longest = max(s.longest, end - start)
        if len(s.gaps) < MAX_GAPS_LISTED:
            s.gaps.append(TimeGap(start, end))
