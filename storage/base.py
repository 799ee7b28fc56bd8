"""The declarative base every table of the bot derives from.

Why a naming convention: Alembic can only drop or alter a constraint it can name, and
SQLite's batch mode recreates tables by name. With the convention every index, unique,
foreign-key, check and primary-key constraint gets a deterministic name, so the initial
migration, later migrations and the models==migrations check agree on both backends.

Why :class:`UTCDateTime`: SQLite has no timezone type and hands back naive datetimes.
A protocol that follows the UTC calendar (epochs, grace days) must never compare a
naive value with an aware one, so every timestamp column refuses naive input on the way
in and is made aware (UTC) on the way out, whatever the backend.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from medcrypt.crypto.errors import StorageError

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise StorageError("naive datetime refused: storage keeps timezone-aware UTC only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - drivers return datetimes
            raise StorageError("timestamp column returned a non-datetime value")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Root of all ORM models; shares one :class:`MetaData` with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 - SQLAlchemy reads it
