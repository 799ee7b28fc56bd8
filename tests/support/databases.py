"""Fresh, empty databases on each backend.

A temporary SQLite file always, and a throw-away database on the real PostgreSQL
server named by ``MEDCRYPT_TEST_PG_URL``: scripts/test.sh starts one server per run
(never one per xdist worker) and every test gets its own database on it. Without that
variable the PostgreSQL half is skipped - except under CI (MEDCRYPT_REQUIRE_PG=1),
where a missing server is a failure, so CI can never go green on SQLite alone.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_URL = os.environ.get("MEDCRYPT_TEST_PG_URL", "")
REQUIRE_PG = os.environ.get("MEDCRYPT_REQUIRE_PG") == "1"


def pg_admin_url() -> str:
    """The server's URL, or skip (fail under CI) when there is no server."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("MEDCRYPT_REQUIRE_PG=1 but MEDCRYPT_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL server (set MEDCRYPT_TEST_PG_URL)")
    return PG_URL


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new database on the run's server, dropped afterwards (its sessions ended)."""
    import sqlalchemy as sa

    admin_url = pg_admin_url()
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
