"""Readers never raise: thousands of mutated capture files through ``replay`` end with exit
0, 1 or 3 and no traceback; the damage is in ``inputs[].errors`` with a byte offset."""

from __future__ import annotations

import io
import json
import logging
import random
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from monitor.cli import main
from tools.fuzz.mutate import mutate
from tools.fuzz.seeds import capture_files, reader_seeds

FILES = 1500


@pytest.fixture(scope="module")
def seeds() -> list[bytes]:
    """Heads of every sample and shared capture (raw bytes, gzip kept as gzip)."""
    return [seed[3:] for seed in reader_seeds(capture_files())[::2]]


def test_mutated_captures_replay_to_a_documented_exit(seeds: list[bytes], tmp_path: Path) -> None:
    rng = random.Random(20261204)
    statuses: dict[int, int] = {}
    with_errors = 0
    path = tmp_path / "mutated.pcap"
    for i in range(FILES):
        path.write_bytes(mutate(rng.choice(seeds), rng.choice(seeds), rng))
        out, err = io.StringIO(), io.StringIO()
        try:
            with redirect_stdout(out), redirect_stderr(err):
                status = main(["replay", str(path), "--json", "--no-progress"])
        except Exception as exc:  # a traceback is the failure this test looks for
            keep = tmp_path / f"raised-{i}.pcap"
            path.rename(keep)
            raise AssertionError(f"replay raised on {keep}: {exc!r}") from exc
        finally:
            logging.getLogger().handlers.clear()
        assert status in (0, 1, 3), (status, err.getvalue()[-2000:])
        report = json.loads(out.getvalue())
        assert (status == 3) == (report["verdict"] == "no_data"), report["verdict"]
        statuses[status] = statuses.get(status, 0) + 1
        with_errors += any(inp["errors"] for inp in report["inputs"])
    assert statuses.get(0, 0) + statuses.get(1, 0) > FILES // 10, statuses  # most still read
    assert with_errors > FILES // 10, with_errors  # and the damage was reported
