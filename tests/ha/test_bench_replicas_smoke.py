"""The replicas benchmark's own part runs (tiny sizes): two replica processes drain a
small backlog to the fake Twilio, every row sent once. Its figures are printed by
``python -m bench.run replicas``, never asserted (bench/harness.py)."""

from __future__ import annotations

import pytest

from bench.bench_replicas import _relay_once

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_two_replica_processes_drain_a_small_backlog(postgres_url: str) -> None:
    # The server of this test's database; the benchmark makes a database of its own.
    assert _relay_once(postgres_url, 2, 30, 0.01) > 0
