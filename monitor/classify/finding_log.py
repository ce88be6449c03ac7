"""The findings of one partition of a replay, kept as calls for the merge to replay.

A :class:`~monitor.classify.findings.FindingBook` is bounded per device and kind, and
which flows get a finding of their own depends on the order they end in. A partition
(``replay --jobs``) therefore does not aggregate: :class:`FindingLog` stands in for the
book and keeps each call with the number of the batch it came in; the merge replays the
calls of every partition into one book, batch by batch, so the bounds apply to the whole
capture as they do in a single process.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.classify.findings import FindingBook, tcp_keys
from monitor.model import Finding, FindingKind

Call = tuple[int, int, Finding | dict[str, Any]]  # batch number, order in the batch, call


@dataclass(slots=True)
class FindingLog:
    """FindingBook's interface, recording instead of aggregating."""

    batch: int = 0  # the batch now being processed (set by the partition's driver)
    calls: list[Call] = field(default_factory=list)

    def add(self, f: Finding) -> Finding:
        """Keep one flow's finding."""
        self.calls.append((self.batch, len(self.calls), f))
        return f

    def fold_if_full(self, f: Finding) -> bool:
        """Never folds here: the merged book decides (see :meth:`FindingBook.add`)."""
        return False

    def add_rows(
        self,
        *,
        device: str,
        kind: FindingKind,
        peers: npt.NDArray[np.uint64],
        ports: npt.NDArray[np.int64],
        first_ts: npt.NDArray[np.float64],
        last_ts: npt.NDArray[np.float64],
        packets: npt.NDArray[np.int64],
        sizes: npt.NDArray[np.int64],
        answered: npt.NDArray[np.bool_],
        describe: Callable[[int], Finding],
    ) -> None:
        """Keep many light flows' findings, with the wording of every row the book may
        ask for: the earliest flow of each key (as :meth:`FindingBook.add_rows` picks)."""
        _, _, earliest = tcp_keys(peers, ports, first_ts)
        words = {i: describe(i) for i in earliest.tolist()}
        call = {
            "device": device, "kind": kind, "peers": peers, "ports": ports,
            "first_ts": first_ts, "last_ts": last_ts, "packets": packets, "sizes": sizes,
            "answered": answered, "words": words,
        }  # fmt: skip
        self.calls.append((self.batch, len(self.calls), call))


def replay_calls(
    book: FindingBook,
    logs: Iterable[FindingLog],
    device: Callable[[str], str] = lambda name: name,
) -> FindingBook:
    """Apply the calls of every partition's log to ``book``: batch by batch, partition by
    partition within a batch, in call order within a partition. ``device`` renames a
    finding's device (to ``other`` beyond the merged device limit)."""
    keyed = [
        (batch, part, order, call)
        for part, log in enumerate(logs)
        for batch, order, call in log.calls
    ]
    keyed.sort(key=lambda k: k[:3])
    for _, _, _, call in keyed:
        if isinstance(call, Finding):
            name = device(call.device)
            book.add(call if name == call.device else dataclasses.replace(call, device=name))
            continue
        rows = dict(call)
        words = rows.pop("words")
        rows["device"] = name = device(rows["device"])
        if name != call["device"]:
            words = {i: dataclasses.replace(f, device=name) for i, f in words.items()}
        book.add_rows(**rows, describe=words.__getitem__)
    return book
