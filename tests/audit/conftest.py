"""Fixtures for the audit-log tests: a keyring, a signer, audit tables on both backends.

Tables are created with ``create_all`` limited to the audit tables (fast, and proves
the repository creates its head row itself); ``test_migration.py`` covers the real
Alembic path.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.audit import CheckpointSigner
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.audit import AuditLog
from medcrypt.storage.db import make_engine
from medcrypt.storage.models import load_all
from tests.support.audit import AUDIT_TABLES, NOW, SERVER_KEY, SIGNING_SEED


@pytest.fixture
def keyring() -> Iterator[Keyring]:
    ring = Keyring({1: SERVER_KEY})
    yield ring
    ring.wipe()


@pytest.fixture
def signer() -> CheckpointSigner:
    return CheckpointSigner(SIGNING_SEED)


@pytest.fixture
def public_keys(signer: CheckpointSigner) -> dict[bytes, object]:
    return {signer.key_id: signer.public_key}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The backend of a module's own ``audit_engine`` (same ids as ``database_url``)."""
    return str(request.param)


@pytest.fixture
def audit_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    load_all().create_all(engine, tables=AUDIT_TABLES)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def audit_log(audit_engine: Engine, keyring: Keyring, signer: CheckpointSigner,
              clock: FixedClock) -> AuditLog:
    return AuditLog(audit_engine, keyring, clock=clock, signer=signer, checkpoint_every=500)
