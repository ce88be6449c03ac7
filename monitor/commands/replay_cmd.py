"""`cctv-monitor replay`: run the audit, write what was asked for, pick the exit status."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from typing import TYPE_CHECKING

from monitor.classify.catalog import VendorCatalog, load_catalog
from monitor.commands import tune_gc
from monitor.commands.outputs import check_replay_outputs
from monitor.commands.pipes import stdout_to_reader
from monitor.config import Policy
from monitor.pipeline import PipelineSettings
from monitor.provenance import add_evidence, build_provenance
from monitor.replay import Progress, ReplayRun, run_replay, write_evidence
from monitor.report import write_flows, write_report
from monitor.report._common import sorted_findings
from monitor.report.json_report import write_json

if TYPE_CHECKING:
    from monitor.report.eve_file import EveFile

log = logging.getLogger(__name__)
EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 3


def _progress(packets: int, nbytes: int, seconds: float) -> None:
    rate = packets / seconds if seconds > 0 else 0.0
    sys.stderr.write(
        f"\r  {packets:>12,} packets  {nbytes / 1e6:>10,.1f} MB  {rate:>12,.0f} packets/s  "
    )
    sys.stderr.flush()


def _eve_file(path: str, site: str) -> EveFile:
    """The ``--eve`` file (its modules load only when it is asked for)."""
    from monitor.report.eve_file import EveFile

    return EveFile(path, site)


def _run_partitioned(
    args: argparse.Namespace,
    policy: Policy,
    catalog: VendorCatalog,
    settings: PipelineSettings,
    eve: EveFile | None,
    progress: Progress | None,
) -> ReplayRun:
    """``--jobs N`` / ``--scheduler``: the flow-hash partitions, run and merged."""
    import tempfile

    from monitor.replay_jobs import partition_specs, run_jobs  # multiprocessing, dask

    jobs = args.jobs
    if args.scheduler and jobs == 1:  # one partition per worker thread of the cluster
        from monitor.replay_dask import cluster_threads

        jobs = cluster_threads(args.scheduler)
    log.info("replay in %d partitions%s", jobs, f" on {args.scheduler}" if args.scheduler else "")
    with contextlib.ExitStack() as stack:
        # local workers leave their flow events in files here; Dask workers send them
        local = eve is not None and not args.scheduler
        eve_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="cctv-eve-"))
        specs = partition_specs(
            args.pcaps,
            policy,
            settings,
            jobs,
            gap_threshold=args.gap_threshold,
            eve=eve is not None,
            eve_dir=eve_dir if local else None,
        )
        run, parts = run_jobs(
            specs,
            catalog,
            hash_inputs=not args.no_input_hash,
            scheduler=args.scheduler,
            progress=progress,
        )
        if eve is not None:
            lines = [
                stack.enter_context(open(p.eve_path, "rb"))
                if p.eve_path is not None
                else p.eve_lines.splitlines(keepends=True)
                for p in sorted(parts, key=lambda p: p.index)
            ]
            orders = [p.eve_order for p in sorted(parts, key=lambda p: p.index)]
            eve.take(list(zip(lines, orders, strict=True)))
    return run


def replay_command(args: argparse.Namespace, policy: Policy, settings: PipelineSettings) -> int:
    """Audit ``args.pcaps`` under ``policy``; return the contract's exit status."""
    check_replay_outputs(args)  # before the first packet is read
    catalog = load_catalog()
    tune_gc()
    show_progress = sys.stderr.isatty() and not args.no_progress and not args.quiet
    progress = _progress if show_progress else None
    gaps = args.gap_threshold
    eve = _eve_file(args.eve, policy.site) if args.eve else None  # flow events as flows end
    try:
        if args.jobs > 1 or args.scheduler:
            run = _run_partitioned(args, policy, catalog, settings, eve, progress)
        else:
            run = run_replay(
                args.pcaps,
                policy,
                catalog,
                settings,
                progress,
                gap_threshold=gaps,
                flow_sink=eve,
                hash_inputs=not args.no_input_hash,
            )
        if eve is not None:
            eve.write_alerts(sorted_findings(run.result))
    finally:
        if eve is not None:
            eve.close()
    if show_progress:
        sys.stderr.write("\n")
    result = run.result  # input errors were logged as they were found
    if eve is not None:
        log.info("EVE: %d flow events, %d alerts written to %s", eve.flows, eve.alerts, eve.path)
    result.provenance = build_provenance(policy.source, catalog.version, args.argv)
    if args.evidence:  # first: the reports carry its SHA-256
        written = write_evidence(run, args.pcaps, args.evidence)
        log.info("evidence: %d packets written to %s", written, args.evidence)
        add_evidence(result.provenance, args.evidence, written)
    with stdout_to_reader():
        if args.json:
            write_json(result, sys.stdout)
            sys.stdout.write("\n")
        elif not args.quiet:
            from monitor.report.markdown import render_markdown  # not loaded for --json

            sys.stdout.write(render_markdown(result))
    for report in args.report or ():
        write_report(result, report)
    if args.flows:
        write_flows(result.flows, args.flows)
    if args.metrics_out:
        from monitor.report.openmetrics import write_openmetrics  # only when asked

        with open(args.metrics_out, "w", encoding="utf-8") as fp:
            write_openmetrics(result.snapshots, policy.site, fp)  # type: ignore[arg-type]
    if result.verdict == "no_data":  # not a single packet: never clean
        return EXIT_UNREADABLE
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN
