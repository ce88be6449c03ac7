"""Build the optional C speedups; everything else is declared in pyproject.toml.

Each extension has a numpy/Python twin that is used when it is not built (no
compiler) and that the tests compare it against.
"""

from setuptools import Extension, setup

HEADERS = ["monitor/native/buffers.h"]
FLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"]


def speedup(name: str, source: str) -> Extension:
    """One optional C extension module."""
    return Extension(name, [source], depends=HEADERS, extra_compile_args=FLAGS, optional=True)


setup(
    ext_modules=[
        speedup("monitor.capture._records", "monitor/capture/_records.c"),
        speedup("monitor.decode._headers", "monitor/decode/_headers.c"),
        speedup("monitor.flow._account", "monitor/flow/_account.c"),
        speedup("monitor.flow._groups", "monitor/flow/_groups.c"),
        speedup("monitor.flow._index", "monitor/flow/_index.c"),
    ]
)
