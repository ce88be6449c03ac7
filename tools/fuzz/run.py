"""Fuzz the readers, decoder, grouping, dissectors and pipeline on the sanitized build.

    python tools/fuzz/run.py --seconds 3600            # what `make fuzz` runs
    python tools/fuzz/run.py --targets reader --seconds 600 --engine mutate

Each target runs in its own child process with the ASan/UBSan runtime preloaded and
``PYTHONMALLOC=malloc`` (see ``asan_build.py``), coverage-guided by atheris (libFuzzer)
when it is installed, else by the plain mutation loop in ``mutate.py``. An input that makes
a target raise, disagree with its twin or trip a sanitizer is saved under
``tests/fuzz/regressions/<target>/`` (the regression tests replay every file there); the
run then exits 1. The last line is ``fuzz: N executions, M crashes``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.fuzz.asan_build import build, sanitizer_env

ROOT = Path(__file__).resolve().parents[2]
REGRESSIONS = ROOT / "tests" / "fuzz" / "regressions"
WORK = ROOT / "build" / "fuzz"
TARGET_NAMES = ("reader", "decoder", "dissectors", "pipeline")
MAX_LEN = 65536 + 3


def _have_atheris(env: dict[str, str]) -> bool:
    probe = subprocess.run([sys.executable, "-c", "import atheris"], env=env, capture_output=True)
    return probe.returncode == 0


def _child_command(
    target: str, seconds: float, engine: str, corpus: Path, crashes: Path
) -> list[str]:
    module = "tools.fuzz.atheris_child" if engine == "atheris" else "tools.fuzz.mutate"
    return [
        sys.executable, "-m", module, target, str(corpus), str(crashes), f"{seconds:.0f}",
    ]  # fmt: skip


def _save(crashes: Path, target: str, regressions: Path) -> list[Path]:
    """Copy this run's crash inputs into the regression directory (named by content)."""
    saved = []
    folder = regressions / target
    for path in sorted(crashes.glob("*")):
        if path.suffix == ".txt":
            continue
        data = path.read_bytes()
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / f"{hashlib.sha256(data).hexdigest()[:16]}.bin"
        dest.write_bytes(data)
        note = path.with_suffix(".txt")
        if note.exists():
            shutil.copy(note, dest.with_suffix(".txt"))
        saved.append(dest)
    return saved


def _executions(output: str) -> int:
    """Executions a child reported (libFuzzer's final stats or the mutation loop's line)."""
    found = re.findall(r"(?:stat::number_of_executed_units|executions):\s*(\d+)", output)
    return int(found[-1]) if found else 0


def run_target(
    target: str, seconds: float, engine: str, work: Path, regressions: Path
) -> tuple[int, list[Path], str]:
    """Fuzz one target in a sanitized child; (executions, saved crash files, its output)."""
    corpus, crashes = work / "corpus" / target, work / "crashes" / target
    shutil.rmtree(crashes, ignore_errors=True)
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    env = sanitizer_env()
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(ROOT)])
    # tools/ must come from the repo while monitor/ comes from the sanitized copy
    cmd = _child_command(target, seconds, engine, corpus, crashes)
    proc = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True, errors="replace")
    output = proc.stdout + proc.stderr
    saved = _save(crashes, target, regressions)
    if proc.returncode != 0 and not saved:
        last = crashes.parent / f"last-{target}.bin"
        if last.exists():  # killed by a sanitizer before it could save: the last input
            (crashes / "sanitizer").write_bytes(last.read_bytes())
            (crashes / "sanitizer.txt").write_text(output[-8000:])
            saved = _save(crashes, target, regressions)
    if proc.returncode != 0 and not saved:
        raise SystemExit(f"fuzz: {target} child failed without a crash input:\n{output[-4000:]}")
    return _executions(output), saved, output


def main(argv: list[str] | None = None) -> int:
    """Build the sanitized copy, fuzz each target for its share of the time, report."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=3600.0, help="total time, split over targets")
    p.add_argument("--targets", default=",".join(TARGET_NAMES), help="comma-separated")
    p.add_argument("--engine", choices=("auto", "atheris", "mutate"), default="auto")
    p.add_argument("--work", type=Path, default=WORK, help="corpus and crash directory")
    p.add_argument(
        "--regressions", type=Path, default=REGRESSIONS, help="where crash inputs are saved"
    )
    args = p.parse_args(argv)
    targets = [t for t in args.targets.split(",") if t]
    unknown = sorted(set(targets) - set(TARGET_NAMES))
    if unknown:
        p.error(f"unknown target(s): {', '.join(unknown)}")
    build()
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if _have_atheris(sanitizer_env()) else "mutate"
    share = args.seconds / len(targets)
    total, crashes = 0, 0
    started = time.monotonic()
    for target in targets:
        executions, saved, _ = run_target(target, share, engine, args.work, args.regressions)
        total += executions
        crashes += len(saved)
        print(f"fuzz: {target}: {executions} executions, {len(saved)} crashes ({engine})")
        for path in saved:
            print(f"  saved {path}")
    elapsed = time.monotonic() - started
    print(f"fuzz: {total} executions, {crashes} crashes in {elapsed:.0f} s ({engine}, ASan+UBSan)")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
