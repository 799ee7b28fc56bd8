"""Fixtures shared by every test package.

``database_url`` gives each test a fresh, empty database on each backend: a temporary
SQLite file always, and a throw-away database on the real PostgreSQL server named by
``MEDCRYPT_TEST_PG_URL`` (scripts/test.sh starts one on loopback). Without that
variable the PostgreSQL half is skipped - except under CI (MEDCRYPT_REQUIRE_PG=1),
where a missing server is a failure, so CI can never go green on SQLite alone.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_URL = os.environ.get("MEDCRYPT_TEST_PG_URL", "")
REQUIRE_PG = os.environ.get("MEDCRYPT_REQUIRE_PG") == "1"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
VECTORS = Path(__file__).resolve().parent / "vectors"


def _pg_admin_url() -> str:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("MEDCRYPT_REQUIRE_PG=1 but MEDCRYPT_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL server (set MEDCRYPT_TEST_PG_URL)")
    return PG_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'medcrypt-test.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    import sqlalchemy as sa

    admin_url = _pg_admin_url()
    name = f"medcrypt_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            ), {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """Each test starts with default logging; no test inherits another's configuration."""
    import logging

    import structlog

    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []
