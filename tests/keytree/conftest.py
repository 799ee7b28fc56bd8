"""Migrated databases for the key-tree tests (the shared SQLite/PostgreSQL fixtures)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.storage.db import make_engine, session_factory


@pytest.fixture
def engine(migrated_database_url: str) -> Iterator[Engine]:
    eng = make_engine(migrated_database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)
