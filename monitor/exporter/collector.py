"""The Prometheus collector: the latest published Snapshot as metric families, at scrape time.

Nothing here runs per packet. The sensor publishes a :class:`~monitor.counters.Snapshot`
about once a second; a scrape reads the newest one and renders every sample of it (via
:func:`monitor.snapshot_samples.iter_samples`) plus the sensor's own metrics
(``cctv_build_info``, the config-reload gauges, what the alert log held back, failed
writes to the alert log and evidence and the alert lines they lost, how old the
snapshot is, and how many capture workers run). It registers on a registry of its own,
never on prometheus_client's global one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from monitor import metrics as m
from monitor.counters import Snapshot
from monitor.snapshot_samples import iter_samples


@dataclass(frozen=True, slots=True)
class SensorInfo:
    """What the sensor says about itself: version, site, the last policy (re)load, the
    findings its alert log held back (by reason) and when the published snapshot was taken.
    """

    site: str
    version: str
    reload_ok: bool
    reload_success_ts: float | None
    alerts_suppressed: Mapping[str, int] = field(default_factory=dict)
    snapshot_taken: float | None = None  # wall-clock time
    sink_write_errors: Mapping[str, int] = field(default_factory=dict)  # by sink
    alerts_lost: int = 0
    workers: tuple[int, int, int] | None = None  # capture workers running, expected, restarts


SnapshotSource = Callable[[], Snapshot | None]
InfoSource = Callable[[], SensorInfo]


Family = CounterMetricFamily | GaugeMetricFamily


def _family(spec: m.MetricSpec) -> Family:
    if spec.kind == "counter":
        return CounterMetricFamily(spec.name, spec.help, labels=spec.labels)
    return GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)


class SnapshotCollector(Collector):
    """Yields every family of the metric catalog from the newest snapshot, in catalog order."""

    def __init__(self, snapshot: SnapshotSource, info: InfoSource) -> None:
        self._snapshot = snapshot
        self._info = info

    def collect(self) -> Iterator[Metric]:
        """Called by prometheus_client on each scrape."""
        info = self._info()
        families: dict[str, Family] = {spec.name: _family(spec) for spec in m.REPLAY_METRICS}
        snap = self._snapshot()
        if snap is not None:
            for spec, labels, value in iter_samples(snap, site=info.site):
                families[spec.name].add_metric([v for _, v in labels], value)
        yield from families.values()
        yield from self._sensor_families(info)

    @staticmethod
    def _sensor_families(info: SensorInfo) -> Iterator[Metric]:
        build = _family(m.BUILD_INFO)
        build.add_metric([info.site, info.version], 1.0)
        yield build
        ok = _family(m.CONFIG_RELOAD_OK)
        ok.add_metric([info.site], 1.0 if info.reload_ok else 0.0)
        yield ok
        when = _family(m.CONFIG_RELOAD_TIME)
        if info.reload_success_ts is not None:
            when.add_metric([info.site], info.reload_success_ts)
        yield when
        suppressed = _family(m.ALERTS_SUPPRESSED)
        for reason, count in info.alerts_suppressed.items():
            suppressed.add_metric([info.site, reason], float(count))
        yield suppressed
        errors = _family(m.SINK_WRITE_ERRORS)
        for sink, count in info.sink_write_errors.items():
            errors.add_metric([info.site, sink], float(count))
        yield errors
        lost = _family(m.ALERTS_LOST)
        lost.add_metric([info.site], float(info.alerts_lost))
        yield lost
        taken = _family(m.SNAPSHOT_TIME)
        if info.snapshot_taken is not None:
            taken.add_metric([info.site], info.snapshot_taken)
        yield taken
        workers, restarts = _family(m.CAPTURE_WORKERS), _family(m.WORKER_RESTARTS)
        if info.workers is not None:
            running, expected, restarted = info.workers
            workers.add_metric([info.site, "running"], float(running))
            workers.add_metric([info.site, "expected"], float(expected))
            restarts.add_metric([info.site], float(restarted))
        yield workers
        yield restarts

    def describe(self) -> Iterator[Metric]:
        """Nothing up front: families depend on the snapshot (keeps registration cheap)."""
        return iter(())


class BootTimeProcessCollector(ProcessCollector):
    """prometheus_client's ``process_*`` metrics, also where ``/proc/stat`` is hidden.

    The systemd unit mounts ``/proc`` with only the process directories
    (``ProcSubset=pid``); the stock collector then finds no boot time and reports
    nothing. The boot time is then the wall clock minus ``CLOCK_BOOTTIME``.
    """

    def _boot_time(self) -> float:
        try:
            return float(super()._boot_time())
        except OSError:
            return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)


def build_registry(
    snapshot: SnapshotSource, info: InfoSource, process_metrics: bool = True
) -> CollectorRegistry:
    """A fresh registry holding the snapshot collector (and process/platform metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot, info))
    if process_metrics:
        BootTimeProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
    return registry
