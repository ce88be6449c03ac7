"""Check every output path before the first packet is read.

A replay of gigabytes that fails at the end because ``--flows`` names a missing directory
wastes the run; so every output is checked up front, and a bad one is a usage error
(exit 2) that names the option and the path, before anything is read or written.
"""

from __future__ import annotations

import argparse
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.model import MonitorError
from monitor.report import FLOW_SUFFIXES, REPORT_SUFFIXES


class OutputError(MonitorError):
    """An output path that cannot be written as asked (a usage error, exit status 2)."""


@dataclass(frozen=True, slots=True)
class Output:
    """One file an option asks to write; ``suffixes`` the allowed ones (None: any)."""

    option: str
    path: str
    suffixes: tuple[str, ...] | None = None

    def fail(self, why: str) -> OutputError:
        """The error for this output: option, path, reason."""
        return OutputError(f"{self.option} {self.path}: {why}")


def replay_outputs(args: argparse.Namespace) -> list[Output]:
    """The outputs ``cctv-monitor replay`` was asked for, in command-line order of kind."""
    outs = [Output("--report", path, REPORT_SUFFIXES) for path in args.report or ()]
    if args.flows:
        outs.append(Output("--flows", args.flows, FLOW_SUFFIXES))
    if args.evidence:
        outs.append(Output("--evidence", args.evidence))
    if args.metrics_out:
        outs.append(Output("--metrics-out", args.metrics_out))
    if args.eve:
        outs.append(Output("--eve", args.eve))
    return outs


def check_live_outputs(args: argparse.Namespace) -> None:
    """Check ``live``'s alert and EVE logs (appended to) and evidence directory (made if
    missing)."""
    outs = [Output(o, p) for o, p in (("--alerts", args.alerts), ("--eve", args.eve)) if p]
    check_outputs(outs)  # two options cannot name one file
    if args.evidence_dir:
        where = Path(args.evidence_dir)
        while not where.exists() and where != where.parent:  # the part that exists
            where = where.parent
        out = Output("--evidence-dir", args.evidence_dir)
        if not where.is_dir():
            raise out.fail(f"{where} is not a directory")
        if not os.access(where, os.W_OK | os.X_OK):
            raise out.fail(f"{where} is not writable")


def check_replay_outputs(args: argparse.Namespace) -> None:
    """Check ``replay``'s outputs against each other, the captures and the policy."""
    inputs = [("PCAP", path) for path in args.pcaps]
    if args.config:
        inputs.append(("--config", args.config))
    check_outputs(replay_outputs(args), inputs)


def check_outputs(outputs: Sequence[Output], inputs: Iterable[tuple[str, str]] = ()) -> None:
    """Raise :class:`OutputError` for the first output that cannot be written as asked.

    Each must have an allowed suffix, not be a directory, sit in an existing writable
    directory (or be an existing writable file), and be neither one of ``inputs``
    (``(option, path)`` pairs: captures, the policy) nor another output. ``--report`` is
    one file per format. Nothing is created or truncated.
    """
    taken: dict[object, str] = {}
    for option, path in inputs:
        key = _identity(path)
        if key is not None:
            taken[key] = f"the input {path}" if option == "PCAP" else f"{option} {path}"
    formats: dict[str, Output] = {}
    for out in outputs:
        _check_one(out)
        if out.option == "--report":
            suffix = Path(out.path).suffix.lower()
            if suffix in formats:
                raise out.fail(f"a second {suffix} report (one --report per format)")
            formats[suffix] = out
        key = _identity(out.path)
        if key is None:  # a device such as /dev/null takes any number of writers
            continue
        if key in taken:
            raise out.fail(f"is the same file as {taken[key]}")
        taken[key] = f"{out.option} {out.path}"


def _check_one(out: Output) -> None:
    path = Path(out.path)
    if out.suffixes is not None and path.suffix.lower() not in out.suffixes:
        raise out.fail(f"the file name must end in one of {', '.join(out.suffixes)}")
    if not out.path or out.path.endswith(os.sep) or path.is_dir():
        raise out.fail("is a directory, not a file")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise out.fail("is not writable")
        return
    parent = path.parent
    if not parent.exists():
        raise out.fail(f"directory {parent} does not exist")
    if not parent.is_dir():
        raise out.fail(f"{parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise out.fail(f"directory {parent} is not writable")


def _identity(path: str) -> object | None:
    """What makes two paths one file: device and inode when it exists, else the resolved
    path; None for character devices (``/dev/null``), which any number may share."""
    try:
        st = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    if stat.S_ISCHR(st.st_mode):
        return None
    return ("inode", st.st_dev, st.st_ino)
