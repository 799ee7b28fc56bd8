"""Fixtures for storage tests: keyrings and migrated databases on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.db import make_engine, session_factory
from tests.support.storage import KEYS_V1


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``bot.cli.main`` points structlog and the root logger at the stderr of the moment
    (a capture file pytest closes afterwards); put both back after every test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def keyring() -> Iterator[Keyring]:
    ring = Keyring.from_env_value(KEYS_V1)
    yield ring
    ring.wipe()


@pytest.fixture
def migrated_url(migrated_database_url: str) -> str:
    return migrated_database_url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    eng = make_engine(migrated_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)
