"""Flow keys are keyed per process: spoofed flows computed to share one hash bucket under
the fixed key of old spread like random flows under this process's key.

The cost of the C grouping's hash table (linear probing, ``cap`` = the power of two at
least twice the batch) is its probe count; the probe count is measured here instead of
wall time. ``bench/hash_collisions.py`` times the same sets.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from monitor.decode.frames import V4_TAG
from monitor.flow import key
from monitor.flow.key import flow_keys
from monitor.flow.key import v4_int as v4

FLOWS = 4096
CAP = 8192  # the grouping table for a batch of 4,096 frames
ATTACKER, CAMERA = v4("198.51.100.7"), v4("10.20.1.5")


def _keys(sport: np.ndarray, dport: np.ndarray, seed: int) -> np.ndarray:
    n = sport.size
    batch = types.SimpleNamespace(
        src_key=np.full(n, np.uint64(ATTACKER) | V4_TAG),
        dst_key=np.full(n, np.uint64(CAMERA) | V4_TAG),
        sport=sport.astype(np.int64),
        dport=dport.astype(np.int64),
        proto=np.full(n, 6, dtype=np.int64),
    )
    return flow_keys(batch, seed)[0]  # type: ignore[arg-type]


def adversarial_ports(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """4,096 (sport, dport) pairs whose keys under ``seed`` share one bucket: what an
    attacker who knows the key function could send (found by brute force, as they would)."""
    rng = np.random.default_rng(7)
    found_s: list[np.ndarray] = []
    found_d: list[np.ndarray] = []
    have = 0
    while have < FLOWS:
        sport = rng.integers(1024, 65536, 1 << 22)
        dport = rng.integers(1, 65536, 1 << 22)
        hit = (_keys(sport, dport, seed) & np.uint64(CAP - 1)) == 0
        found_s.append(sport[hit])
        found_d.append(dport[hit])
        have += int(hit.sum())
    pairs = np.unique(np.stack([np.concatenate(found_s), np.concatenate(found_d)]), axis=1)
    return pairs[0, :FLOWS], pairs[1, :FLOWS]


def probes(keys: np.ndarray) -> int:
    """Slots visited inserting ``keys`` into the grouping's linear-probing table."""
    taken = np.zeros(CAP, dtype=bool)
    total = 0
    for slot in (keys & np.uint64(CAP - 1)).tolist():
        total += 1
        while taken[slot]:
            slot = (slot + 1) & (CAP - 1)
            total += 1
        taken[slot] = True
    return total


@pytest.fixture(scope="module")
def attack() -> tuple[np.ndarray, np.ndarray]:
    return adversarial_ports()


def test_the_attack_is_real_under_a_fixed_key(attack: tuple[np.ndarray, np.ndarray]) -> None:
    keys = _keys(*attack, seed=0)
    assert np.unique(keys).size == FLOWS  # distinct flows ...
    assert np.unique(keys & np.uint64(CAP - 1)).size == 1  # ... in one bucket


@pytest.mark.parametrize("seed", [key.SEED, 0x5DEECE66D, 2**64 - 1])
def test_the_attack_costs_no_more_than_random_flows_under_a_process_key(
    attack: tuple[np.ndarray, np.ndarray], seed: int
) -> None:
    if seed == 0:
        pytest.skip("the process key happens to be the fixed one")
    rng = np.random.default_rng(11)
    random_flows = _keys(rng.integers(1024, 65536, FLOWS), rng.integers(1, 65536, FLOWS), seed)
    assert probes(_keys(*attack, seed)) <= 1.5 * probes(random_flows)


def test_each_process_draws_its_own_key_unless_told() -> None:
    import subprocess
    import sys

    code = "from monitor.flow.key import SEED; print(SEED)"
    run = [sys.executable, "-c", code]
    drawn = {subprocess.run(run, capture_output=True, text=True).stdout for _ in range(3)}
    assert len(drawn) == 3
    fixed = subprocess.run(
        run, capture_output=True, text=True, env={"CCTV_FLOW_KEY_SEED": "0x2a", "PATH": ""}
    )
    assert fixed.stdout.strip() == "42"
