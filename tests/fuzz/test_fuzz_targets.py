"""Every registered fuzz target survives a bounded, seeded mutation run in CI.

Longer runs: ``python -m tests.fuzz.run_all --iterations 1000000``.
"""

from __future__ import annotations

import os

import pytest

from tests.fuzz.run_all import discover, fuzz

ITERATIONS = int(os.environ.get("MEDCRYPT_FUZZ_ITERATIONS", "5000"))
TARGETS = discover()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target_raises_only_project_errors(name: str) -> None:
    assert fuzz(name, TARGETS[name], ITERATIONS, seed=20261123) == 0


def test_mutator_changes_inputs() -> None:
    import random

    from tests.fuzz.run_all import mutate

    rng = random.Random(1)
    seed = b"[MEDCRYPT:v2:AAAA]"
    assert any(mutate(rng, seed) != seed for _ in range(10))
