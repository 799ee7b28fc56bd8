"""The demo runs once per test run: every test of this package asserts on that one run.

A session fixture runs once per xdist *worker*, so every module here carries the same
``xdist_group`` mark and ``--dist loadgroup`` sends them all to one worker.
"""

from __future__ import annotations

import pytest

from tests.support.demo import DemoRecord, record_demo


@pytest.fixture(scope="session")
def demo_run() -> DemoRecord:
    """``medcrypt-bot demo``: the README's main job, recorded (tests/support/demo.py)."""
    return record_demo()
