"""The alert log: findings as JSON lines, appended and flushed as they happen, bounded.

Each finding line is the contract's finding object (:meth:`Finding.to_json`) plus
``record`` (``finding``), ``site``, ``time`` (ISO 8601 UTC of the finding's ``first_ts``),
``count`` and ``suppressed``. What keeps a flood from flooding the file:

* **Keys.** A finding's key is (device, kind, peer, peer_port, proto), as in the report.
  A key gets a line when it first appears. Repeats inside ``throttle`` seconds of packet
  time are held back and counted; when the window has passed, the last of them is written
  with how many it stands for (``count``; ``suppressed = count - 1``).
* **Summaries.** Per device and kind at most ``max_keys`` keys (the policy's
  ``limits.findings_per_device``) get lines of their own; findings with further keys fold
  into one summary for that device and kind (``record: summary``, ``peer`` null,
  ``peers``, ``ports``, ``sample_peers``, ``flows``), written when the first one folds and
  then at most once per ``SUMMARY_SECONDS`` while more fold in (``count`` = findings folded
  since the previous summary line).
* **Line rate.** At most ``rate`` lines per second of wall time, with a burst of
  ``BURST_SECONDS`` worth. A line the rate does not allow is not written; the findings it
  stood for are tallied by kind and written as one ``record: held_back`` line at most once
  per ``HELD_BACK_SECONDS`` (and at close).

Nothing is dropped silently: the sum of ``count`` over the file is the number of findings,
and every finding that did not get a line of its own at once is counted in
``suppressed[reason]`` (``throttle``, ``fold`` or ``rate``: the metric
``cctv_alerts_suppressed_total``). Memory is bounded: at most ``max_total_keys`` keys and
``max_summaries`` summaries (beyond that, further devices share the summary of the device
``other``), each holding at most one finding.

With ``--eve``, every finding and summary line also goes to the EVE log as an alert
(:class:`~monitor.live.eve_log.EveLog`): the same decisions, in EVE form; with ``--eve``
alone (no ``--alerts``) the decisions are made all the same.

Lines are never torn and never lost silently on a full disk (:class:`LineSink`): they wait,
bounded, until space returns; what cannot wait is counted in ``lost_findings``
(``cctv_alerts_lost_total``) and every failed write in ``write_errors``
(``cctv_sink_write_errors_total{sink="alerts"}``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from monitor.classify.devices import OTHER_LABEL
from monitor.classify.distinct import DistinctCount
from monitor.classify.evidence import evidence_tail
from monitor.classify.findings import MAX_FINDINGS
from monitor.live.eve_log import EveLog
from monitor.live.sink import LineSink
from monitor.model import Finding, FindingKind
from monitor.text import plural

DEFAULT_THROTTLE = 300.0
DEFAULT_RATE = 20.0  # lines per second of wall time (0: no limit)
BURST_SECONDS = 10.0  # the burst allowed on top of the rate: this many seconds' worth
SUMMARY_SECONDS = 60.0  # at most one summary line per device and kind per minute
HELD_BACK_SECONDS = 60.0  # at most one held_back line per minute
MAX_TOTAL_KEYS = 16_384  # keys remembered in all (a few MB); further keys fold
MAX_SUMMARIES = 1_024  # device-and-kind summaries; further devices share "other"'s
SUMMARY_EXACT = 64  # distinct peers/ports counted exactly up to this, then estimated (4 KiB)
SAMPLE_PEERS = 5
REASONS = ("throttle", "fold", "rate")  # the label values of cctv_alerts_suppressed_total
Key = tuple[str, str, str | None, int | None, str]  # device, kind, peer, peer_port, proto
DeviceKind = tuple[str, str]


@dataclass(slots=True)
class _Window:
    """One key's throttle window (packet time) and what was held back inside it.

    ``until`` is -inf when the key's last line was cut by the rate: its next finding
    is written at once (if the rate then allows).
    """

    until: float
    held: int = 0
    last: Finding | None = None


@dataclass(slots=True)
class _Summary:
    """What folded into one device's and kind's summary so far."""

    finding: Finding
    peers: DistinctCount = field(default_factory=lambda: DistinctCount(SUMMARY_EXACT))
    ports: DistinctCount = field(default_factory=lambda: DistinctCount(SUMMARY_EXACT))
    protos: set[str] = field(default_factory=set)  # at most a few: "mixed" beyond one
    mixed_vendor: bool = False
    pending: int = 0  # findings folded in since the last summary line
    written: float = -math.inf  # wall time of the last summary line


@dataclass(slots=True)
class _HeldBack:
    """Findings whose line the rate did not allow, since the last held_back line."""

    count: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    first_ts: float = math.inf
    last_ts: float = -math.inf

    def add(self, kind: str, count: int, first_ts: float, last_ts: float) -> None:
        self.count += count
        self.kinds[kind] = self.kinds.get(kind, 0) + count
        self.first_ts = min(self.first_ts, first_ts)
        self.last_ts = max(self.last_ts, last_ts)


def iso_utc(ts: float) -> str:
    """``2026-03-02T08:00:03.000Z`` for UNIX seconds ``ts``."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AlertLog:
    """Writes findings to ``path``; with ``path`` None it only counts them.

    ``clock`` is the wall clock of the line rate, the summary and held_back cadences
    (injected by tests); the throttle runs on packet time (the findings' ``first_ts``
    and the ``now`` given to :meth:`flush_due`).
    """

    def __init__(
        self,
        path: str | None,
        site: Callable[[], str],
        throttle: float = DEFAULT_THROTTLE,
        *,
        max_keys: int = MAX_FINDINGS,
        rate: float = DEFAULT_RATE,
        clock: Callable[[], float] = time.time,
        max_total_keys: int = MAX_TOTAL_KEYS,
        max_summaries: int = MAX_SUMMARIES,
        eve: EveLog | None = None,
    ) -> None:
        self.path = path
        self.eve = eve  # --eve: an EVE alert for every finding and summary line
        self.site = site
        self.throttle = max(float(throttle), 0.0)
        self.max_keys = max(int(max_keys), 1)
        self.rate = max(float(rate), 0.0)
        self.burst = max(self.rate * BURST_SECONDS, 1.0)
        self.clock = clock
        self.max_total_keys = max_total_keys
        self.max_summaries = max_summaries
        self.findings = 0
        self.lines = 0  # finding and summary lines
        self.held_back_lines = 0
        # Fixed keys: the scrape thread copies this dict while the capture loop counts.
        self.suppressed: dict[str, int] = dict.fromkeys(REASONS, 0)
        self._windows: dict[Key, _Window] = {}
        self._waiting: dict[Key, _Window] = {}  # the windows holding findings back
        self._per_device_kind: dict[DeviceKind, int] = {}
        self._summaries: dict[DeviceKind, _Summary] = {}
        self._held_back = _HeldBack()
        self._next_held_back = -math.inf
        self._tokens = self.burst
        self._tokens_at = clock()
        self._sink = LineSink(path, "alert log") if path is not None else None

    @property
    def write_errors(self) -> int:
        """Failed writes to the file (retries included)."""
        return self._sink.write_errors if self._sink is not None else 0

    @property
    def lost_findings(self) -> int:
        """Findings whose line could not be written (the wait was full, or at stop)."""
        return self._sink.lost_weight if self._sink is not None else 0

    # -- findings in ------------------------------------------------------------------
    def add(self, finding: Finding) -> None:
        """Account one flow's finding: a line now, or held back and counted."""
        self.findings += 1
        if self.path is None and self.eve is None:
            return
        kind = finding.kind.value
        key = (finding.device, kind, finding.peer, finding.peer_port, finding.proto)
        window = self._windows.get(key)
        if window is None:
            dk = (finding.device, kind)
            known = self._per_device_kind.get(dk, 0)
            if known >= self.max_keys or len(self._windows) >= self.max_total_keys:
                self._fold(dk, finding)
                return
            self._per_device_kind[dk] = known + 1
            window = self._windows[key] = _Window(until=-math.inf)
        ts = finding.first_ts
        if ts < window.until:
            window.held += 1
            window.last = finding
            self._waiting[key] = window
            self.suppressed["throttle"] += 1
            return
        count = 1 + window.held
        window.held, window.last = 0, None
        self._waiting.pop(key, None)
        if self._take():
            self._write(finding, count)
            window.until = ts + self.throttle
        else:
            self.suppressed["rate"] += 1
            self._held_back.add(kind, count, finding.first_ts, finding.last_ts)
            window.until = -math.inf

    def _fold(self, dk: DeviceKind, f: Finding) -> None:
        summary = self._summaries.get(dk)
        if summary is None:
            if len(self._summaries) >= self.max_summaries:
                dk = (OTHER_LABEL, dk[1])
                summary = self._summaries.get(dk)
            if summary is None:
                summary = self._summaries[dk] = _start_summary(dk, f)
        s = summary.finding
        s.flows += 1
        s.packets += f.packets
        s.bytes += f.bytes
        s.answered = s.answered or f.answered
        if f.first_ts < s.first_ts:
            s.first_ts, s.flow_uid, s.flow_ref = f.first_ts, f.flow_uid, f.flow_ref
        s.last_ts = max(s.last_ts, f.last_ts)
        if f.peer is not None:
            summary.peers.add(f.peer)
            samples = s.sample_peers
            if samples is not None and len(samples) < SAMPLE_PEERS and f.peer not in samples:
                samples.append(f.peer)
        summary.ports.add(f"{f.proto}/{f.peer_port}")
        if len(summary.protos) < 2:
            summary.protos.add(f.proto)
        if f.vendor != s.vendor or f.endpoint != s.endpoint:
            summary.mixed_vendor = True
        summary.pending += 1
        self.suppressed["fold"] += 1
        if self.clock() >= summary.written + SUMMARY_SECONDS:
            self._write_summary(dk, summary)

    # -- time passes ------------------------------------------------------------------
    def flush_due(self, now: float) -> None:
        """Write what is due: held-back repeats whose window ended by packet time ``now``,
        summaries not written for a minute, the held_back line; lines waiting for disk
        space get another try first."""
        if self._sink is not None:
            self._sink.retry()
        if self.eve is not None:
            self.eve.retry()
        for key, window in list(self._waiting.items()):
            if now >= window.until:
                self._release(key, window, now)
        clock = self.clock()
        for dk, summary in self._summaries.items():
            if summary.pending and clock >= summary.written + SUMMARY_SECONDS:
                self._write_summary(dk, summary)
        if self._held_back.count and clock >= self._next_held_back:
            self._write_held_back()

    def close(self) -> None:
        """Write everything still held back, sync and close the file (idempotent)."""
        for key, window in list(self._waiting.items()):
            self._release(key, window, None)
        for dk, summary in self._summaries.items():
            if summary.pending:
                self._write_summary(dk, summary)
        if self._held_back.count:
            self._write_held_back()
        if self._sink is not None:
            self._sink.close()
        if self.eve is not None:
            self.eve.close()

    def summary(self) -> str:
        """One sentence for the stop log: lines written and lost, findings held back and why."""
        s = self.suppressed
        text = (
            f"{self.lines:,} alert lines and {self.held_back_lines:,} held_back lines; "
            f"{sum(s.values()):,} findings without a line of their own "
            f"({s['throttle']:,} repeats inside --throttle, {s['fold']:,} folded into "
            f"summaries, {s['rate']:,} over --alerts-rate)"
        )
        text = text if self._sink is None else f"{text}; {self._sink.summary()}"
        return text if self.eve is None else f"{text}; {self.eve.summary()}"

    # -- writing ----------------------------------------------------------------------
    def _release(self, key: Key, window: _Window, now: float | None) -> None:
        """Write a window's held-back repeats as one line (its last finding, their count)."""
        del self._waiting[key]
        last, count = window.last, window.held
        window.held, window.last = 0, None
        if last is None or count == 0:
            return
        if self._take():
            self._write(last, count)
            if now is not None:
                window.until = now + self.throttle
        else:
            self._held_back.add(last.kind.value, count, last.first_ts, last.last_ts)
            window.until = -math.inf

    def _write_summary(self, dk: DeviceKind, summary: _Summary) -> None:
        count, summary.pending = summary.pending, 0
        summary.written = self.clock()
        s = summary.finding
        if not self._take():
            self._held_back.add(s.kind.value, count, s.first_ts, s.last_ts)
            return
        out = replace(s, sample_peers=list(s.sample_peers or ()))
        out.peers, out.ports = summary.peers.count(), summary.ports.count()
        out.proto = next(iter(summary.protos)) if len(summary.protos) == 1 else "mixed"
        if summary.mixed_vendor:
            out.vendor = out.endpoint = None
        verb = "from" if s.kind == FindingKind.INBOUND else "of"
        resolvers = s.kind == FindingKind.EXTERNAL_RESOLVER
        what_one, what = (
            ("resolver", "resolvers") if resolvers else ("outside address", "outside addresses")
        )
        out.evidence = (
            f"{dk[0]}: scan {verb} {plural(out.peers, what_one, what)} on "
            f"{plural(out.ports, 'port')}, beyond the "
            f"{plural(self.max_keys, 'alert key')} kept per device and kind; "
            f"{evidence_tail(out.answered, out.flows, out.packets, out.bytes)}"
        )
        self._write(out, count, "summary")

    def _write_held_back(self) -> None:
        held, self._held_back = self._held_back, _HeldBack()
        self._next_held_back = self.clock() + HELD_BACK_SECONDS
        self.held_back_lines += 1
        line = {
            "record": "held_back",
            "site": self.site(),
            "time": iso_utc(held.first_ts),
            "first_ts": held.first_ts,
            "last_ts": held.last_ts,
            "kinds": dict(sorted(held.kinds.items())),
            "count": held.count,
            "suppressed": held.count,
            "evidence": (
                f"{held.count:,} findings had no line of their own: the alert log writes "
                f"at most {self.rate:g} lines per second (--alerts-rate)"
            ),
        }
        self._emit(line)

    def _take(self) -> bool:
        """One line of the rate's budget, if there is one left."""
        if self.rate <= 0:
            return True
        now = self.clock()
        if now > self._tokens_at:
            self._tokens = min(self.burst, self._tokens + (now - self._tokens_at) * self.rate)
        self._tokens_at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def _write(self, finding: Finding, count: int, record: str = "finding") -> None:
        self.lines += 1
        if self.eve is not None:
            self.eve.alert(finding, count, record)
        if self._sink is None:
            return
        line = {
            **finding.to_json(),
            "record": record,
            "site": self.site(),
            "time": iso_utc(finding.first_ts),
            "count": count,
            "suppressed": count - 1,
        }
        self._emit(line)

    def _emit(self, line: dict[str, object]) -> None:
        if self._sink is None:
            return
        text = json.dumps(line, separators=(",", ":")) + "\n"
        count = line["count"]
        self._sink.put(text.encode("utf-8"), count if isinstance(count, int) else 1)


def _start_summary(dk: DeviceKind, f: Finding) -> _Summary:
    first = replace(
        f, device=dk[0], peer=None, peer_port=None, peer_name=None, flows=0, packets=0,
        bytes=0, peers=0, ports=0, sample_peers=[], answered=False, query_name=None,
    )  # fmt: skip
    first.first_ts, first.last_ts = f.first_ts, f.last_ts
    return _Summary(first)
