"""Build a copy of the ``monitor`` package whose C speedups carry AddressSanitizer and UBSan.

The copy goes to ``build/asan/monitor`` (the Python sources are copied, every extension
``monitor.speedups.MODULES`` names compiled with ``-fsanitize=address,undefined``), so the
normal in-place build stays as it is. Run Python on it with the ASan runtime preloaded and
``PYTHONMALLOC=malloc`` (see :func:`sanitizer_env`); otherwise pymalloc's pools hide small
over-reads.

    python tools/fuzz/asan_build.py            # prints the directory to put on PYTHONPATH
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from monitor.speedups import MODULES

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "asan"
# module path -> C source, for every speedup the package loads (one list: speedups.py)
EXTENSIONS = {name.replace(".", "/"): name.replace(".", "/") + ".c" for name in MODULES}
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
FLAGS = ["-O1", "-g", "-fno-omit-frame-pointer", "-std=c11", "-shared", "-fPIC", *SANITIZE]


def compiler() -> str:
    """The C compiler: $CC, else gcc."""
    return os.environ.get("CC", "gcc")


def runtime_library() -> str:
    """Path of the compiler's ASan runtime, for LD_PRELOAD (Python itself is not built with it)."""
    path = subprocess.run(
        [compiler(), "-print-file-name=libasan.so"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not os.path.isabs(path) or not os.path.exists(path):
        raise SystemExit(f"asan_build: {compiler()} has no libasan.so (got {path!r})")
    return path


def sanitizer_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a Python process that loads the sanitized build."""
    env = dict(os.environ if base is None else base)
    env["LD_PRELOAD"] = runtime_library()
    env["PYTHONMALLOC"] = "malloc"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(OUT), env.get("PYTHONPATH", "")]))
    # Python leaks by design at exit; a leak report would hide the real findings.
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:allocator_may_return_null=1"
    env["UBSAN_OPTIONS"] = "halt_on_error=1:abort_on_error=1:print_stacktrace=1"
    env.pop("CCTV_MONITOR_NO_C", None)
    return env


def _stale(target: Path, sources: list[Path]) -> bool:
    return not target.exists() or any(s.stat().st_mtime > target.stat().st_mtime for s in sources)


def build() -> Path:
    """Copy the package and compile the sanitized extensions (only what changed); the root."""
    package = OUT / "monitor"
    shutil.copytree(
        ROOT / "monitor",
        package,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("*.so", "__pycache__", "*.c", "*.h"),
    )
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    include = sysconfig.get_paths()["include"]
    header = ROOT / "monitor/native/buffers.h"
    for module, source in EXTENSIONS.items():
        target = OUT / f"{module}{suffix}"
        if not _stale(target, [ROOT / source, header]):
            continue
        cmd = [compiler(), *FLAGS, f"-I{include}", f"-I{header.parent}", str(ROOT / source)]
        subprocess.run([*cmd, "-o", str(target)], check=True)
    return OUT


def main() -> int:
    """Build, then print the PYTHONPATH entry."""
    print(build())
    return 0


if __name__ == "__main__":
    sys.exit(main())
