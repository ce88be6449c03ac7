"""The coverage-guided engine: one target under atheris (libFuzzer) with the Python
code of ``monitor`` instrumented.

    python -m tools.fuzz.atheris_child TARGET CORPUS_DIR CRASH_DIR SECONDS

Seeds go into the corpus directory when it is empty; libFuzzer keeps the inputs that
reach new code there, so a longer run continues where the last one stopped.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path

import atheris

MAX_LEN = 65536 + 3


def main(argv: list[str]) -> None:
    """Hand the target to libFuzzer until ``-max_total_time``; it exits the process."""
    target_name, corpus, crashes, seconds = argv[0], Path(argv[1]), Path(argv[2]), argv[3]
    logging.disable(logging.CRITICAL)
    with atheris.instrument_imports(include=["monitor"]):
        from tools.fuzz.targets import TARGETS
    if not any(corpus.iterdir()):
        from tools.fuzz.seeds import seeds_for

        for seed in seeds_for(target_name):
            seed = seed[:MAX_LEN]
            (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    target = TARGETS[target_name]
    args = [
        sys.argv[0],
        f"-max_total_time={seconds}",
        f"-max_len={MAX_LEN}",
        f"-artifact_prefix={crashes}/",
        "-print_final_stats=1",
        "-rss_limit_mb=6144",
        "-timeout=30",
        str(corpus),
    ]
    atheris.Setup(args, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv[1:])
