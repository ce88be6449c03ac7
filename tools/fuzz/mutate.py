"""The fallback fuzzing engine: a plain mutation loop over the seeds (no coverage guidance).

    python -m tools.fuzz.mutate TARGET CORPUS_DIR CRASH_DIR SECONDS

Each input is written to ``last-TARGET.bin`` beside the crash directory before it runs, so
that a sanitizer abort (which kills the process) still leaves the input behind. Python
exceptions are saved at once with their traceback, at most ``MAX_SAVED`` per distinct
place. The last line is ``executions: N``.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import time
import traceback
from pathlib import Path

from tools.fuzz.seeds import seeds_for
from tools.fuzz.targets import TARGETS

MAX_LEN = 65536 + 3
MAX_SAVED = 3
INTERESTING_8 = (0, 1, 0x7F, 0x80, 0xFF)
INTERESTING_32 = (0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def mutate(data: bytes, other: bytes, rng: random.Random) -> bytes:
    """1 to 8 stacked byte-level mutations (flips, boundary values, cuts, copies, splices)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(8)
        at = rng.randrange(len(buf)) if buf else 0
        if op == 0 and buf:
            buf[at] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[at] = rng.choice(INTERESTING_8)
        elif op == 2 and len(buf) >= 4:
            at = min(at, len(buf) - 4)
            value = rng.choice(INTERESTING_32) if rng.random() < 0.7 else rng.randrange(len(buf))
            buf[at : at + 4] = value.to_bytes(4, rng.choice(("big", "little")))
        elif op == 3 and buf:
            del buf[at : at + rng.randint(1, 64)]
        elif op == 4:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 5 and buf:
            end = min(len(buf), at + rng.randint(1, 256))
            buf[at:at] = buf[at:end]
        elif op == 6 and other:
            start = rng.randrange(len(other))
            buf[at:] = other[start : start + rng.randint(1, 4096)]
        elif op == 7 and buf:
            del buf[rng.randrange(len(buf)) :]
    return bytes(buf[:MAX_LEN])


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    return f"{type(exc).__name__}@{last.filename}:{last.lineno}" if last else type(exc).__name__


def main(argv: list[str]) -> int:
    """Fuzz ``argv[0]`` until the time is up; exit 1 when something was saved."""
    target_name, corpus_dir, crash_dir, seconds = argv[0], Path(argv[1]), Path(argv[2]), argv[3]
    logging.disable(logging.CRITICAL)
    target = TARGETS[target_name]
    corpus = seeds_for(target_name) + [p.read_bytes() for p in sorted(corpus_dir.glob("*"))]
    corpus = corpus or [b"\0" * 64]
    rng = random.Random(int.from_bytes(os.urandom(8), "big"))
    last = os.open(crash_dir.parent / f"last-{target_name}.bin", os.O_WRONLY | os.O_CREAT, 0o644)
    seen: dict[str, int] = {}
    deadline = time.monotonic() + float(seconds)
    executions = 0
    while time.monotonic() < deadline:
        data = mutate(rng.choice(corpus), rng.choice(corpus), rng)
        os.pwrite(last, data, 0)
        os.ftruncate(last, len(data))
        executions += 1
        try:
            target(data)
        except Exception as exc:
            where = _where(exc)
            seen[where] = seen.get(where, 0) + 1
            if seen[where] <= MAX_SAVED:
                name = crash_dir / f"crash-{executions}"
                name.write_bytes(data)
                name.with_suffix(".txt").write_text("".join(traceback.format_exception(exc)))
    for where, count in sorted(seen.items()):
        print(f"crash: {where} x{count}")
    print(f"executions: {executions}")
    return 1 if seen else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
