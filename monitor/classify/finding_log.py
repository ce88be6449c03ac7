"""The findings of the partitions of a replay (``--jobs``), and how they become one book.

Each partition keeps a :class:`~monitor.classify.findings.FindingBook` with the run's
bounds, so its memory is bounded as a single process's is (a million-flow scan stays a
few thousand findings), and notes when each of its own findings got its place. The merge
hands the partitions' own findings to one book in the order they got their places, batch
by batch, so the bounds per device and kind apply to the whole run; what a partition
folded into a summary is folded into the run's summary.

A key that a partition had to fold (its own bound was full) while another partition
gave it a finding of its own keeps those flows in the summary: under a flood beyond the
bounds the itemised findings may differ from one process's, never the totals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from monitor.classify.findings import TAKEN, FindingBook, Key, KindSummary, Rank
from monitor.model import Finding

Placed = tuple[Finding, str, Mapping[str, Rank]]  # an own finding, its base, its ranks


@dataclass(slots=True)
class PartitionFindings(FindingBook):
    """A partition's FindingBook that remembers when each own finding got its place."""

    batch: int = 0  # the batch now being processed (set by the partition's driver)
    placed: dict[Key, tuple[int, int]] = field(default_factory=dict)  # (batch, order)

    def add(self, f: Finding) -> Finding:
        """:meth:`FindingBook.add`, noting the place of a new own finding."""
        key = (f.device, f.kind.value, f.peer, f.peer_port, f.proto)
        new = key not in self.placed
        entry = FindingBook.add(self, f)
        if new and key in self._entries:
            self.placed[key] = (self.batch, len(self.placed))
        return entry

    def own(self, key: Key) -> Placed:
        """The own finding of ``key`` as :meth:`FindingBook.absorb` takes it: the finding,
        its evidence without the tail, and the ranks of the flows its fields came from."""
        taken = self._taken_at
        ranks = {n: taken[(key, n)] for n in ("flow", *TAKEN) if (key, n) in taken}
        return self._entries[key], self._bases[key], ranks

    def summaries(self) -> Iterator[tuple[str, str, KindSummary]]:
        """The summary findings: (device, kind, summary) each."""
        for (name, kind), summary in self._summaries.items():
            yield name, kind, summary


def merge_findings(
    book: FindingBook,
    parts: Sequence[PartitionFindings],
    device: Callable[[str], str] = lambda name: name,
) -> FindingBook:
    """The partitions' findings in ``book``: own findings in the order they got their
    places (batch by batch, partition by partition within a batch), then the summaries.
    ``device`` renames a finding's device (to ``other`` beyond the merged device limit)."""
    placed = sorted(
        (place, index, key)
        for index, part in enumerate(parts)
        for key, place in part.placed.items()
    )
    for _, index, key in placed:
        f, base, ranks = parts[index].own(key)
        name = device(f.device)
        renamed = f if name == f.device else dataclasses.replace(f, device=name)
        book.absorb(renamed, base, ranks)
    for part in parts:
        for name, kind, summary in part.summaries():
            book.absorb_summary(device(name), kind, summary)
    return book
