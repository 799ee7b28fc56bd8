"""Dialect helpers shared by the repositories."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_if_absent(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when a row was inserted.

    A unique constraint decides, atomically in the database, so two replicas handling
    the same redelivered platform message cannot both win. ``RETURNING`` tells whether
    a row was written: psycopg reports ``rowcount`` -1 for this statement form.
    """
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    pk = next(iter(table.primary_key.columns))
    stmt = module.insert(table).values(**values).on_conflict_do_nothing().returning(pk)
    return session.execute(stmt).first() is not None
