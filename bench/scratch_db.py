"""A PostgreSQL database made for one benchmark case and dropped after it.

The drain, intake and audit-append benchmarks each measure on a fresh database so that
one case's rows, indexes and statistics do not colour the next.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text


@contextmanager
def postgres_database(pg_url: str) -> Iterator[str]:
    """Create a uniquely named database on the server of ``pg_url``, yield its URL, and
    drop it afterwards (ending any connection a case left open)."""
    name = f"medcrypt_bench_{secrets.token_hex(6)}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{pg_url.rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
