"""Command line: parse arguments, build the objects, run a subcommand (the composition root).

Each subcommand imports what it needs when it runs: ``--version``, ``--help``,
``check-config``, ``catalog`` and ``verify`` never load numpy or the packet path, so they
answer in a third of a replay's start-up.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from monitor import __version__
from monitor.audit import DEFAULT_GAP_THRESHOLD
from monitor.commands.logs import LIVE_REPEAT_SECONDS, log_level, report_suppressed, setup_logging
from monitor.commands.pipes import flush_stdout, stdout_closed
from monitor.flow.settings import FlowSettings
from monitor.model import ConfigError, MonitorError

if TYPE_CHECKING:
    from monitor.config import Policy
    from monitor.pipeline import PipelineSettings

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2, 3
EVE_FLOWS = ("all", "flagged", "none")  # live --eve-flows
log = logging.getLogger("monitor")
EXIT_HELP = """\
exit status:
  0  success; replay: no finding; live: stopped cleanly by SIGTERM/SIGINT
  1  replay: at least one finding
  2  usage, site policy or output path error (outputs are checked before reading)
  3  replay: no packet could be read at all (verdict no_data, never clean)

-v/--verbose and -q/--quiet may also follow the subcommand. A closed stdout
(cctv-monitor catalog | head) ends the output quietly, with the usual status."""
REPLAY_EXIT_HELP = """\
exit status:
  0  clean: no finding
  1  at least one finding
  2  usage, site policy or output path error: nothing was read or written
  3  no packet could be read at all (verdict no_data, never clean)
A partly readable input is read up to the damage and named in inputs[].errors;
that alone does not change the status."""
VERIFY_EXIT_HELP = """\
exit status:
  0  every file the report names still has the SHA-256 it recorded
  1  at least one file changed or is missing
  2  the report cannot be read or is not a cctv-monitor JSON report"""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit with the contract's status 2 (as argparse does)."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    p = _Parser(
        prog="cctv-monitor",
        description="Passive verdicts on a 'closed' CCTV network.",
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"cctv-monitor {__version__}")
    _global_options(p, "")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser(
        "replay",
        help="audit capture files (pcap, pcapng, .gz)",
        epilog=REPLAY_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("pcaps", nargs="+", metavar="PCAP")
    r.add_argument("--config", metavar="SITE.yaml", help="site policy (default: built-in)")
    r.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    r.add_argument(
        "--report",
        metavar="FILE",
        action="append",
        help="write a report (.json, .md, .html); repeat for several formats",
    )
    r.add_argument("--flows", metavar="FILE", help="write every flow (.csv, .parquet)")
    r.add_argument("--evidence", metavar="FILE", help="pcap of the packets of flagged flows")
    r.add_argument("--metrics-out", metavar="FILE", help="OpenMetrics with capture timestamps")
    r.add_argument(
        "--eve",
        metavar="FILE",
        help="Suricata EVE JSON lines: a flow event per flow, an alert per finding (docs/eve.md)",
    )
    r.add_argument(
        "--metrics-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="packet-time spacing of --metrics-out samples (default 60)",
    )
    r.add_argument(
        "--gap-threshold",
        type=float,
        default=DEFAULT_GAP_THRESHOLD,
        metavar="SECONDS",
        help="packet-time stretches longer than this without any packet are gaps in the "
        "report's coverage (default 300; 0: not looked for)",
    )
    _flow_options(r)
    r.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    r.add_argument(
        "--no-input-hash",
        action="store_true",
        help="do not take the inputs' SHA-256 for the report's provenance (it costs about "
        "a core-second per 1.5 GB; equal-sized inputs are still hashed to find copies)",
    )
    r.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="N processes, flows partitioned by flow hash; the same report as one (default 1)",
    )
    r.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the partitions as tasks of a Dask distributed scheduler (tcp://HOST:8786; "
        "needs the [distributed] extra; the workers read the inputs from the same paths)",
    )

    live = sub.add_parser("live", help="passive sensor on a mirror/SPAN port")
    live.add_argument("--interface", "-i", required=True)
    live.add_argument("--config", metavar="SITE.yaml")
    live.add_argument("--listen", default="127.0.0.1:9108", metavar="ADDR:PORT")
    live.add_argument("--web-config", metavar="FILE", help="TLS / basic auth (exporter-toolkit)")
    live.add_argument("--alerts", metavar="FILE", help="append findings as JSON lines")
    live.add_argument(
        "--throttle",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="one alert line per finding key (device, kind, peer, port, proto) per window "
        "(default 300)",
    )
    live.add_argument(
        "--alerts-rate",
        type=float,
        default=20.0,
        metavar="LINES",
        help="at most this many alert lines per second, bursts of 10 s worth; the rest "
        "is counted in held_back lines (default 20; 0: no limit)",
    )
    live.add_argument(
        "--eve",
        metavar="FILE",
        help="append Suricata EVE JSON lines: an alert per alert-log line, flow events "
        "(--eve-flows; docs/eve.md)",
    )
    live.add_argument(
        "--eve-flows",
        choices=EVE_FLOWS,
        default="flagged",
        help="which ended flows get an EVE flow event: all, flagged (those with a finding; "
        "the default) or none",
    )
    live.add_argument(
        "--eve-flows-rate",
        type=float,
        default=200.0,
        metavar="LINES",
        help="at most this many EVE flow events per second, bursts of 10 s worth; the rest "
        "are counted and logged (default 200; 0: no limit)",
    )
    live.add_argument("--evidence-dir", metavar="DIR", help="rotating pcaps of flagged flows")
    live.add_argument("--evidence-max-mib", type=int, default=1024, metavar="MIB")
    live.add_argument("--evidence-file-mib", type=int, default=64, metavar="MIB")
    live.add_argument("--bpf", metavar="EXPR", help="extra kernel filter (narrows what is counted)")
    live.add_argument("--workers", type=int, default=1, help="capture processes (kernel fanout)")
    live.add_argument("--snaplen", type=int, default=1600, metavar="BYTES")
    live.add_argument("--buffer-mib", type=int, default=64, metavar="MIB", help="kernel buffer")
    live.add_argument(
        "--stale-after",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="cctv_capture_up is 0 after this long without a packet (default 60)",
    )
    _flow_options(live)

    inv = sub.add_parser(
        "inventory", help="print a site policy skeleton (YAML) from what the captures show"
    )
    inv.add_argument("pcaps", nargs="+", metavar="PCAP")
    inv.add_argument("--site", default="my-site", help="the skeleton's site name")
    _flow_options(inv)

    c = sub.add_parser("check-config", help="validate a site policy and print it")
    c.add_argument("config", metavar="SITE.yaml")
    ver = sub.add_parser(
        "verify",
        help="re-hash the inputs, policy and evidence a JSON report names",
        epilog=VERIFY_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ver.add_argument("report", metavar="REPORT.json")
    cat = sub.add_parser("catalog", help="print the vendor endpoint catalog")
    cat.add_argument("--json", action="store_true", help="machine-readable output")
    for command in sub.choices.values():
        _global_options(command, "_after")
    return p


def _global_options(p: argparse.ArgumentParser, suffix: str) -> None:
    """-v and -q, on the main parser and again (dest + ``suffix``) after each subcommand."""
    p.add_argument(
        "-v", "--verbose", action="count", default=0, dest="verbose" + suffix,
        help="more log output (-vv: debug)",
    )  # fmt: skip
    p.add_argument(
        "-q", "--quiet", action="store_true", dest="quiet" + suffix,
        help="nothing on stdout but what --json asks for; one log level less",
    )  # fmt: skip


def _flow_options(p: argparse.ArgumentParser) -> None:
    d = FlowSettings()
    p.add_argument("--idle-timeout", type=float, default=d.idle_timeout, metavar="SECONDS")
    p.add_argument("--active-timeout", type=float, default=d.active_timeout, metavar="SECONDS")
    p.add_argument("--max-flows", type=int, default=d.max_flows, metavar="N")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _settings(args: argparse.Namespace, snapshot_seconds: float | None) -> PipelineSettings:
    from monitor.pipeline import PipelineSettings  # the packet path: only for what reads packets

    flows = FlowSettings(
        idle_timeout=args.idle_timeout, active_timeout=args.active_timeout, max_flows=args.max_flows
    )
    # Flow records are kept only when a flow table is asked for: memory then stays flat
    # however long the capture is (live never keeps them).
    keep_records = bool(getattr(args, "flows", None))
    return PipelineSettings(
        flows=flows, snapshot_seconds=snapshot_seconds, keep_records=keep_records
    )


def _policy(path: str | None) -> Policy:
    from monitor.config import default_policy, load_policy

    return load_policy(path) if path else default_policy()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cctv-monitor`` console script."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:  # --help, --version, a usage error: what they printed, flushed
        flush_stdout()
        raise
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the report's provenance
    args.verbose += args.verbose_after
    args.quiet = args.quiet or args.quiet_after
    live = args.command == "live"  # a sensor says where it listens and how it stopped
    level = log_level(logging.INFO if live else logging.WARNING, args.verbose, args.quiet)
    once = setup_logging(level, LIVE_REPEAT_SECONDS if live else None)
    try:
        if args.command == "replay":
            from monitor.commands.replay_cmd import replay_command

            return replay_command(
                args,
                _policy(args.config),
                _settings(args, args.metrics_interval if args.metrics_out else None),
            )
        if args.command == "live":
            from monitor.commands.live_cmd import live_command

            return live_command(args, _policy(args.config), _settings(args, None))
        if args.command == "inventory":
            from monitor.commands.inventory_cmd import inventory_command

            return inventory_command(args, _settings(args, None))
        if args.command == "verify":
            from monitor.commands.verify_cmd import verify_command

            return verify_command(args.report, sys.stdout)
        if args.command == "check-config":
            from monitor.config import describe_policy, load_policy

            described = describe_policy(load_policy(args.config))
            if not args.quiet:
                print(described)
            return EXIT_CLEAN
        if args.command == "catalog":
            from monitor.classify.catalog import load_catalog, render_catalog, render_catalog_json

            catalog = load_catalog()
            if args.json:
                print(json.dumps(render_catalog_json(catalog), indent=2))
            elif not args.quiet:
                print(render_catalog(catalog))
            sys.stdout.flush()  # a closed pipe shows here, inside the try
            return EXIT_CLEAN
    except BrokenPipeError:  # stdout's reader went away: it has what it wanted
        stdout_closed()
        return EXIT_CLEAN
    except ConfigError as exc:
        print(f"cctv-monitor: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (MonitorError, ValueError, OSError) as exc:
        print(f"cctv-monitor: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        report_suppressed(once)
        flush_stdout()  # whatever the command printed, while a closed pipe can be handled
    return EXIT_USAGE
