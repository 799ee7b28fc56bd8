"""Fixtures every test package can use (a fresh database on each backend, clean logging),
and the hooks that schedule the run over xdist workers.

The databases come from tests/support/databases.py (one PostgreSQL server per run,
started by scripts/test.sh; one database per test on it). The order and the groups the
workers follow are explained in tests/support/scheduling.py; fixed ports in
tests/support/ports.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import (
    fresh_postgres_database,
    migrated,
    migrated_postgres_database,
)
from tests.support.ports import choose_run_offset
from tests.support.scheduling import expected_seconds, longest_first


def pytest_configure(config: pytest.Config) -> None:
    choose_run_offset()  # in the controller, before it starts the workers


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):  # a worker's collection is the schedule
        longest_first(items, expected_seconds())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'medcrypt-test.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Like ``database_url``, already at the newest revision: a copy of this worker's
    migrated template (tests/support/databases.py), not a migration run per test."""
    if request.param == "sqlite":
        yield migrated(f"sqlite:///{tmp_path / 'medcrypt-test.db'}")
        return
    with migrated_postgres_database() as url:
        yield url


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """Each test starts with default logging; no test inherits another's configuration."""
    import logging

    import structlog

    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []
