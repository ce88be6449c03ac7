"""cctv-monitor: passive verdicts on what a "closed" camera network really sends."""

import os

# numpy's OpenBLAS starts one thread per core at import, and they spin for a while. The
# monitor does no linear algebra: without them numpy loads in half the CPU time and
# leaves the other core to the capture. A value the user set still wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
__all__ = ["__version__"]
