"""Mutation testing of the deciding code: run mutmut, subtract the reviewed equivalent
mutants, print a per-module breakdown and one closing line ``mutation: K/N killed``.

Usage (from the repository root, normally through ``make mutation``)::

    .venv/bin/python tools/mutation.py            # fresh run: mutants/ is rebuilt
    .venv/bin/python tools/mutation.py --reuse    # keep mutants/ and mutmut's cached results
    .venv/bin/python tools/mutation.py --survivors  # also print each survivor's diff

What is mutated and which tests run is configured in ``[tool.mutmut]`` of pyproject.toml.
Equivalent mutants (a change no test can notice, because behaviour does not change) are
listed in tests/mutation/equivalent.toml; each entry names the module, the function, the
line before and after the mutation, and why the two behave alike. Entries are matched on
that text, not on mutmut's numeric suffix, which shifts when a function is edited. An
entry that matches no mutant any more is reported as stale (and fails the run), so the
list is re-reviewed whenever the code under it changes.

mutmut runs in this process (it forks a worker per mutant from it), so nothing from
``monitor`` may be imported here before mutmut has put mutants/ first on sys.path.
Exit status: 0 when the score reaches ``--fail-under`` (default 90 %) and the list has no
stale entry, else 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EQUIVALENT = REPO / "tests" / "mutation" / "equivalent.toml"
DETECTED = frozenset({"killed", "timeout", "segfault", "caught by type check"})
"""Statuses in which a test (or the runtime) noticed the mutant."""


@dataclass(frozen=True, slots=True)
class Mutant:
    name: str  # mutmut's key, e.g. monitor.flow.table.xǁFlowTableǁingest__mutmut_12
    module: str
    function: str  # Class.method or function
    status: str
    removed: tuple[str, ...]  # the original lines the mutation touches, stripped
    added: tuple[str, ...]  # the same lines in the mutant, stripped
    diff: str


@dataclass(frozen=True, slots=True)
class Equivalent:
    module: str
    function: str
    before: str
    after: str
    reason: str

    def matches(self, m: Mutant) -> bool:
        return (
            m.module == self.module
            and m.function == self.function
            and _squash(" ".join(m.removed)) == _squash(self.before)
            and _squash(" ".join(m.added)) == _squash(self.after)
        )


def _squash(text: str) -> str:
    return " ".join(text.split())


def load_equivalents(path: Path = EQUIVALENT) -> list[Equivalent]:
    """The reviewed list; every entry needs all five fields and a non-empty reason."""
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for i, entry in enumerate(data.get("equivalent", [])):
        missing = [k for k in ("module", "function", "before", "after", "reason") if k not in entry]
        if missing or not str(entry.get("reason", "")).strip():
            raise SystemExit(f"{path}: entry {i + 1}: missing {', '.join(missing) or 'reason'}")
        out.append(Equivalent(**{k: str(entry[k]) for k in Equivalent.__slots__}))
    return out


def _function_name(mangled: str) -> str:
    """``xǁFlowTableǁingest`` -> ``FlowTable.ingest``; ``x_flow_keys`` -> ``flow_keys``."""
    if "ǁ" in mangled:
        _, cls, meth = mangled.split("ǁ")
        return f"{cls}.{meth}"
    return mangled.removeprefix("x_")


def collect_mutants() -> list[Mutant]:
    """Every mutant mutmut made, with its status and diff (cwd must be the repository)."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files
    from mutmut.utils.format_utils import mangled_name_from_mutant_name

    out = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        module = str(path.with_suffix("")).replace(os.sep, ".")
        for name, code in sorted(data.exit_code_by_key.items()):
            mangled = mangled_name_from_mutant_name(name).rpartition(".")[2]
            diff = get_diff_for_mutant(name, path=path)
            lines = diff.splitlines()
            removed = tuple(x[1:].strip() for x in lines if x.startswith("-") and x[:3] != "---")
            added = tuple(x[1:].strip() for x in lines if x.startswith("+") and x[:3] != "+++")
            status = status_by_exit_code[code]
            out.append(Mutant(name, module, _function_name(mangled), status, removed, added, diff))
    return out


def run_mutmut(children: int) -> None:
    """``mutmut run`` in this process (its workers fork from here)."""
    from mutmut.__main__ import cli

    try:
        cli.main(["run", "--max-children", str(children)], standalone_mode=False)
    except SystemExit as exc:  # mutmut exits on a failing clean run
        if exc.code not in (0, None):
            raise


def _quiet_scapy() -> None:
    """Stop scapy from sending IPv6 neighbour solicitations while tests build frames.

    ``bytes(Ether() / IPv6(...))`` without a destination MAC asks the network and waits
    one second for an answer that never comes, then uses the broadcast address. Failing
    the lookup at once gives the same bytes without the wait (a test would otherwise take
    seconds per mutant). Only the test frames are affected; monitor never uses scapy.
    """
    try:
        from scapy.config import conf
        from scapy.layers.inet6 import IPv6
        from scapy.layers.l2 import Ether
    except ImportError:
        return
    conf.neighbor.register_l3(Ether, IPv6, lambda l2, l3: None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reuse", action="store_true", help="keep mutants/ and cached results")
    parser.add_argument("--survivors", action="store_true", help="print survivors' diffs")
    parser.add_argument("--fail-under", type=float, default=90.0, help="minimum score, percent")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)

    os.chdir(REPO)
    if "monitor" in sys.modules:
        raise SystemExit("monitor was imported before mutmut: the tests would not see mutants")
    equivalents = load_equivalents()
    if not args.reuse:
        shutil.rmtree(REPO / "mutants", ignore_errors=True)
    _quiet_scapy()
    started = time.monotonic()
    run_mutmut(args.children)
    elapsed = time.monotonic() - started
    mutants = collect_mutants()
    return report(mutants, equivalents, elapsed, args.fail_under, args.survivors)


def report(
    mutants: list[Mutant],
    equivalents: list[Equivalent],
    elapsed: float,
    fail_under: float,
    show_diffs: bool,
) -> int:
    used: Counter[int] = Counter()
    per_module: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # killed, total, equiv
    survivors: list[Mutant] = []
    for m in mutants:
        row = per_module[m.module]
        hit = next((i for i, e in enumerate(equivalents) if e.matches(m)), None)
        if hit is not None and m.status not in DETECTED:
            used[hit] += 1
            row[2] += 1
            continue
        if hit is not None:
            used[hit] += 1  # listed, yet killed: the entry is wrong; reported below
        row[1] += 1
        if m.status in DETECTED:
            row[0] += 1
        else:
            survivors.append(m)
    print()
    print(f"mutmut finished in {elapsed / 60:.1f} min")
    for m in survivors:
        print(f"not killed ({m.status}): {m.name}  [{m.function}]")
        if show_diffs:
            print(m.diff)
    problems = 0
    killed_listed = [
        m for m in mutants if m.status in DETECTED and any(e.matches(m) for e in equivalents)
    ]
    for m in killed_listed:
        problems += 1
        print(f"listed as equivalent but killed: {m.name} ({m.function}): fix the entry")
    for i, e in enumerate(equivalents):
        if not used[i]:
            problems += 1
            print(f"stale equivalent entry (matches no mutant): {e.module} {e.function}: {e.after}")
    print()
    print(f"{'module':36} {'killed':>7} {'total':>6} {'equiv':>6} {'score':>7}")
    killed = total = 0
    for module in sorted(per_module):
        k, n, eq = per_module[module]
        killed, total = killed + k, total + n
        score = 100.0 * k / n if n else 100.0
        print(f"{module:36} {k:7d} {n:6d} {eq:6d} {score:6.1f}%")
    overall = 100.0 * killed / total if total else 100.0
    print(f"{'all':36} {killed:7d} {total:6d} {sum(r[2] for r in per_module.values()):6d} "
          f"{overall:6.1f}%")  # fmt: skip
    print(f"mutation: {killed}/{total} killed")
    return 0 if overall >= fail_under and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
