"""Mutation testing of the deciding code: run mutmut, subtract the reviewed equivalent
mutants, print a per-module breakdown and one closing line ``mutation: K/N killed``.

Usage (from the repository root, normally through ``make mutation``)::

    .venv/bin/python tools/mutation.py            # fresh run: mutants/ is rebuilt
    .venv/bin/python tools/mutation.py --reuse    # keep mutants/ and mutmut's cached results
    .venv/bin/python tools/mutation.py --survivors  # also print each survivor's diff

What is mutated and which tests run is configured in ``[tool.mutmut]`` of pyproject.toml.
Mutants no test can kill are listed in tests/mutation/equivalent.toml: "equivalent" ones
(the change cannot alter behaviour) and "unreachable" ones (code that runs only at import,
before mutmut switches a mutant on). Each entry names the module, the function, the line
before and after the mutation, and why. Entries are matched on that text, not on mutmut's
numeric suffix, which shifts when a function is edited. An entry that matches no mutant
any more, or whose mutant is killed, fails the run, so the list is reviewed again whenever
the code under it changes. Listed mutants are left out of N in ``mutation: K/N killed``.

mutmut's own progress output goes to mutants/mutmut-run.log.

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
    kind: str = "equivalent"  # or "unreachable"

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
        if entry.get("kind", "equivalent") not in ("equivalent", "unreachable"):
            raise SystemExit(f"{path}: entry {i + 1}: kind must be equivalent or unreachable")
        out.append(Equivalent(**{k: str(entry[k]) for k in Equivalent.__slots__ if k in entry}))
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


def run_mutmut(children: int, log: Path) -> None:
    """``mutmut run`` in this process (its workers fork from here), its output to ``log``."""
    from mutmut.__main__ import cli

    log.parent.mkdir(exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    failed: BaseException | None = None
    with open(log, "wb") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            cli.main(["run", "--max-children", str(children)], standalone_mode=False)
        except SystemExit as exc:  # mutmut exits when the clean or forced-fail run fails
            if exc.code not in (0, None):
                failed = exc
        except Exception as exc:
            failed = exc
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    if failed is not None:
        text = log.read_text(encoding="utf-8", errors="replace").replace("\r", "\n")
        tail = [ln for ln in text.splitlines() if ln.strip()][-40:]
        print("\n".join(tail), file=sys.stderr)
        raise SystemExit(f"mutmut failed ({failed!r}); full log: {log}")


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
    log = REPO / "mutants" / "mutmut-run.log"
    print(f"mutmut run --max-children {args.children} (progress: {log.relative_to(REPO)})")
    started = time.monotonic()
    run_mutmut(args.children, log)
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
    """Print survivors, problems with the list, the per-module table and the closing line."""
    used: Counter[int] = Counter()
    per_module: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # killed, total, listed
    excluded: Counter[str] = Counter()
    survivors: list[Mutant] = []
    wrongly_listed: list[Mutant] = []
    for m in mutants:
        row = per_module[m.module]
        hit = next((i for i, e in enumerate(equivalents) if e.matches(m)), None)
        if hit is not None:
            used[hit] += 1
            if m.status not in DETECTED:
                row[2] += 1
                excluded[equivalents[hit].kind] += 1
                continue
            wrongly_listed.append(m)
        row[1] += 1
        if m.status in DETECTED:
            row[0] += 1
        else:
            survivors.append(m)
    print(f"mutmut finished in {elapsed / 60:.1f} min: {len(mutants)} mutants")
    for m in survivors:
        print(f"not killed ({m.status}): {m.name}  [{m.function}]")
        if show_diffs:
            print(m.diff)
    problems = 0
    for m in wrongly_listed:
        problems += 1
        print(f"listed in {EQUIVALENT.name} but killed: {m.name} [{m.function}]: fix the entry")
    for i, e in enumerate(equivalents):
        if not used[i]:
            problems += 1
            print(f"stale entry in {EQUIVALENT.name} (matches no mutant): {e.module} {e.function}:")
            print(f"    {e.after}")
    print()
    print(f"{'module':28} {'killed':>6} {'total':>6} {'listed':>6} {'score':>7}")
    killed = total = 0
    for module in sorted(per_module):
        k, n, eq = per_module[module]
        killed, total = killed + k, total + n
        score = 100.0 * k / n if n else 100.0
        print(f"{module:28} {k:6d} {n:6d} {eq:6d} {score:6.1f}%")
    overall = 100.0 * killed / total if total else 100.0
    listed = sum(r[2] for r in per_module.values())
    print(f"{'all':28} {killed:6d} {total:6d} {listed:6d} {overall:6.1f}%")
    print(
        f"listed (left out of N): {excluded['equivalent']} equivalent, "
        f"{excluded['unreachable']} unreachable; {len(survivors)} not killed"
    )
    if problems:
        print(f"{problems} problem(s) with {EQUIVALENT.relative_to(REPO)}: see above")
    if overall < fail_under:
        print(f"score {overall:.1f}% is below --fail-under {fail_under:g}%")
    print(f"mutation: {killed}/{total} killed")
    return 0 if overall >= fail_under and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
