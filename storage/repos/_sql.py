"""Dialect helpers shared by the repositories: insert-if-absent, bulk insert-ignore.

A unique constraint decides, atomically in the database, instead of a prior SELECT:
two replicas handling the same redelivered message cannot both win, and no caller ever
sees an ``IntegrityError``. ``RETURNING`` tells what was written (psycopg reports
``rowcount`` -1 for ``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

#: Parameter sets per executemany call of :func:`insert_ignore`.
CHUNK = 1000


def dialect_insert(bind: Engine | Connection | Session, table: Table) -> Any:
    """``INSERT`` of the bind's dialect, which has ``on_conflict_do_nothing``."""
    name = (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name
    return postgresql.insert(table) if name == "postgresql" else sqlite.insert(table)


def conflict_free(table: Table) -> dict[str, Any]:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING pk`` per dialect, built once: pick
    with ``[conn.dialect.name]`` on a hot path."""
    pk = next(iter(table.primary_key.columns))
    return {
        "sqlite": sqlite.insert(table).on_conflict_do_nothing().returning(pk),
        "postgresql": postgresql.insert(table).on_conflict_do_nothing().returning(pk),
    }


def insert_if_absent(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when a row was inserted."""
    pk = next(iter(table.primary_key.columns))
    stmt = dialect_insert(session, table).values(**values).on_conflict_do_nothing().returning(pk)
    return session.execute(stmt).first() is not None


def insert_ignore(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows`` skipping unique-key conflicts; returns how many were inserted.

    One compiled statement executed for many parameter sets (SQLAlchemy's
    "insertmanyvalues" batches them into multi-row INSERTs at the string level), with
    ``RETURNING`` so the count is what the database really inserted.
    """
    if not rows:
        return 0
    key = next(iter(table.primary_key.columns))
    stmt = dialect_insert(session, table).on_conflict_do_nothing().returning(key)
    inserted = 0
    for start in range(0, len(rows), CHUNK):
        inserted += len(session.execute(stmt, list(rows[start:start + CHUNK])).all())
    return inserted


def rowcount(result: object) -> int:
    """Rows an UPDATE or DELETE touched (0 when the driver does not say)."""
    return int(getattr(result, "rowcount", 0) or 0)
