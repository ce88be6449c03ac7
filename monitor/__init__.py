"""cctv-monitor: passive verdicts on what a "closed" camera network really sends."""

__version__ = "0.1.0"
__all__ = ["__version__"]
