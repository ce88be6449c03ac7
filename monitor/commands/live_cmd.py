"""`cctv-monitor live`: turn the command line into a LiveConfig and run the sensor."""

from __future__ import annotations

import argparse
import dataclasses

from monitor.capture.live import CaptureOptions, check_filter, compose_filter
from monitor.commands import tune_gc
from monitor.commands.outputs import check_live_outputs
from monitor.config import Policy
from monitor.exporter.server import parse_listen
from monitor.exporter.webconfig import load_web_config
from monitor.live.evidence import EvidenceOptions
from monitor.live.runtime import LiveConfig
from monitor.live.sensor import run_live
from monitor.model import ConfigError
from monitor.pipeline import PipelineSettings

MIB = 1 << 20


def live_command(args: argparse.Namespace, policy: Policy, settings: PipelineSettings) -> int:
    """Run the passive sensor on ``args.interface`` until SIGTERM/SIGINT; 0 after a clean stop."""
    tune_gc()
    return run_live(build_config(args, settings), policy)


def build_config(args: argparse.Namespace, settings: PipelineSettings) -> LiveConfig:
    """Validate the options (ConfigError names the bad one) and gather them."""
    _positive(args, "workers", "snaplen", "buffer_mib", "stale_after")
    _positive(args, "evidence_max_mib", "evidence_file_mib")
    if args.throttle < 0:
        raise ConfigError("--throttle must not be negative")
    if not args.alerts_rate >= 0:
        raise ConfigError("--alerts-rate must not be negative")
    if not args.eve_flows_rate >= 0:
        raise ConfigError("--eve-flows-rate must not be negative")
    parse_listen(args.listen)
    check_live_outputs(args)
    bpf = compose_filter(args.bpf)
    check_filter(bpf, args.snaplen)
    capture = CaptureOptions(
        interface=args.interface,
        snaplen=args.snaplen,
        buffer_bytes=args.buffer_mib * MIB,
        bpf=bpf,
    )
    evidence = None
    if args.evidence_dir:
        evidence = EvidenceOptions(
            directory=args.evidence_dir,
            max_total_bytes=args.evidence_max_mib * MIB,
            max_file_bytes=min(args.evidence_file_mib, args.evidence_max_mib) * MIB,
        )
    return LiveConfig(
        capture=capture,
        policy_path=args.config,
        listen=args.listen,
        web=load_web_config(args.web_config) if args.web_config else None,
        alerts_path=args.alerts,
        throttle=args.throttle,
        alerts_rate=args.alerts_rate,
        eve_path=args.eve,
        eve_flows=args.eve_flows,
        eve_flows_rate=args.eve_flows_rate,
        evidence=evidence,
        workers=args.workers,
        stale_after=args.stale_after,
        # A sensor runs for months: it keeps counters, not a record of every flow.
        settings=dataclasses.replace(settings, keep_records=False, keep_names=False),
    )


def _positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be positive")
