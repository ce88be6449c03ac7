"""Light flows: flows kept as numpy columns, with no Python object per flow.

A scan or a spoofed flood is a million flows of one SYN each. Such a flow carries no
payload, so no dissector has anything to read, and its verdict follows from addresses and
ports alone. The flow table keeps those flows here, one row per flow, created, counted and
ended per batch with numpy; the moment a light flow shows payload it is *promoted* to a
:class:`~monitor.flow.state.FlowState` and goes on like any other flow.

Rows are slots in preallocated columns (grown by doubling). The index from flow key to
slot (:mod:`monitor.flow.key_index`, a hash table in C) takes a batch's lookups, inserts
and removals at once, with no Python per flow. A flow that ends is first *detached* (its
key may start a new flow in the same batch) and its slot is freed once the pipeline has
accounted for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.flow.key_index import KeyIndex, key_index

I64 = npt.NDArray[np.int64]
UNCLASSIFIED = -1

# column name -> dtype; every column has one entry per slot
COLUMNS: dict[str, type] = {
    "key": np.uint64,
    "uid": np.int64,  # the flow's number (flow ids are F%08d)
    "first_ts": np.float64,
    "last_ts": np.float64,
    "orig_is_low": np.bool_,
    "proto": np.int64,
    "orig_addr": np.uint64,  # IPv4 address as an integer
    "resp_addr": np.uint64,
    "orig_port": np.int64,
    "resp_port": np.int64,
    "orig_pkts": np.int64,
    "orig_bytes": np.int64,
    "resp_pkts": np.int64,
    "resp_bytes": np.int64,
    "orig_flags": np.int64,
    "resp_flags": np.int64,
    "resp_errors": np.int64,  # ICMP errors among resp_pkts (FlowState.icmp_errors)
    # written by the pipeline: verdict code, counter key, what it already counted
    "verdict": np.int64,
    "label": np.int64,
    "dev_orig": np.bool_,  # the device (closed-network end) is the originator
    "live": np.bool_,  # the slot holds a flow that has not been detached
    "settled": np.bool_,
    "flagged": np.bool_,
    "c_orig_pkts": np.int64,
    "c_orig_bytes": np.int64,
    "c_resp_pkts": np.int64,
    "c_resp_bytes": np.int64,
}
TCP_FIN, TCP_SYN, TCP_RST = 0x01, 0x02, 0x04
# columns a new row must start from zero (the flow table sets uid, times, sides, ports,
# proto; the pipeline sets verdict, label and dev_orig when it classifies the row)
_ZEROED = (
    "orig_pkts", "orig_bytes", "resp_pkts", "resp_bytes", "orig_flags", "resp_flags",
    "resp_errors", "settled", "flagged", "c_orig_pkts", "c_orig_bytes", "c_resp_pkts",
    "c_resp_bytes",
)  # fmt: skip


@dataclass(slots=True)
class LightFlows:
    """Flows as columns: see the module docstring."""

    capacity: int = 4096
    cols: dict[str, np.ndarray] = field(default_factory=dict)
    _index: KeyIndex = field(default_factory=key_index)
    _free: list[int] = field(default_factory=list)
    _used: int = 0  # slots ever handed out (the high-water mark)

    def __post_init__(self) -> None:
        self.cols = {name: np.zeros(self.capacity, dtype=t) for name, t in COLUMNS.items()}

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]

    def slots_of(self, keys: npt.NDArray[np.uint64]) -> I64:
        """The slot of each key, -1 for keys without a light flow."""
        return self._index.lookup(keys)

    def allocate(self, keys: npt.NDArray[np.uint64]) -> I64:
        """Fresh slots for new flows with these keys (columns zeroed, verdict unset)."""
        n = keys.shape[0]
        take = min(n, len(self._free))
        cut = len(self._free) - take
        reused = self._free[cut:][::-1]  # the last freed first, as popping them would
        del self._free[cut:]
        fresh = n - take
        if self._used + fresh > self.capacity:
            self._grow(self._used + fresh)
        slots = np.concatenate([
            np.asarray(reused, dtype=np.int64),
            np.arange(self._used, self._used + fresh, dtype=np.int64),
        ])  # fmt: skip
        self._used += fresh
        for name in _ZEROED:  # the table writes the others right after
            self.cols[name][slots] = 0
        self.cols["key"][slots] = keys
        self.cols["verdict"][slots] = UNCLASSIFIED
        self.cols["live"][slots] = True
        self._index.insert(keys, slots)
        return slots

    def _grow(self, need: int) -> None:
        size = self.capacity
        while size < need:
            size *= 2
        for name, col in self.cols.items():
            bigger = np.zeros(size, dtype=col.dtype)
            bigger[: self.capacity] = col
            self.cols[name] = bigger
        self.capacity = size

    def detach(self, slots: I64) -> None:
        """Forget the keys of these slots (the rows stay readable until :meth:`free`)."""
        live = self.cols["live"]
        slots = slots[live[slots]]
        if not slots.size:
            return
        live[slots] = False
        self._index.remove(self.cols["key"][slots])

    def free(self, slots: I64) -> None:
        """Give detached slots back for reuse."""
        self._free.extend(slots.tolist())

    def live_slots(self) -> I64:
        """Every slot that holds a flow."""
        return np.flatnonzero(self.cols["live"][: self._used])

    def closed(self, slots: I64) -> npt.NDArray[np.bool_]:
        """A FIN or RST was seen on these flows."""
        flags = self.cols["orig_flags"][slots] | self.cols["resp_flags"][slots]
        return (flags & (TCP_FIN | TCP_RST)) != 0

    def answered(self, slots: I64) -> npt.NDArray[np.bool_]:
        """The responder sent something other than a reset or an ICMP error (as
        FlowState.answered: light flows are TCP; a lone RST without SYN is a rejection)."""
        c = self.cols
        r, pkts = c["resp_flags"][slots], c["resp_pkts"][slots] - c["resp_errors"][slots]
        rejected = ((r & TCP_RST) != 0) & ((r & TCP_SYN) == 0) & (pkts <= 1)
        return (pkts > 0) & ~rejected

    def answered_one(self, slot: int) -> bool:
        """:meth:`answered` of one row, without numpy temporaries (its twin in tests)."""
        c = self.cols
        r, pkts = int(c["resp_flags"][slot]), int(c["resp_pkts"][slot] - c["resp_errors"][slot])
        rejected = bool(r & TCP_RST) and not r & TCP_SYN and pkts <= 1
        return pkts > 0 and not rejected


def tally_pairs(a: I64, b: I64) -> dict[tuple[int, int], int]:
    """How often each (a, b) pair occurs."""
    key = a * 4 + b
    uniq, counts = np.unique(key, return_counts=True)
    return {(k // 4, k % 4): int(n) for k, n in zip(uniq.tolist(), counts.tolist(), strict=True)}


def max_by(key: I64, value: npt.NDArray[np.float64]) -> dict[int, float]:
    """The largest value per key."""
    uniq, inverse = np.unique(key, return_inverse=True)
    out = np.full(uniq.size, -np.inf)
    np.maximum.at(out, inverse.reshape(-1), value)
    return dict(zip(uniq.tolist(), out.tolist(), strict=True))
