"""Multi-replica behaviour on PostgreSQL: racing first contacts.

(SKIP LOCKED outbox claims are tested with the outbox itself, tests/bot/test_outbox_queue.py.)
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.repos.identities import get_or_create_identity
from tests.support.storage import NOW

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_sessions(postgres_url: str) -> sessionmaker[Session]:
    migrate.upgrade(postgres_url)
    engine = make_engine(postgres_url)
    yield session_factory(engine)
    engine.dispose()


def test_racing_first_contact_yields_one_identity(
    pg_sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    inserted = threading.Event()
    release = threading.Event()
    ids: dict[str, str] = {}

    def replica_a() -> None:
        with pg_sessions.begin() as s:
            ident, created = get_or_create_identity(s, keyring, "whatsapp", "+15550009999",
                                                    now=NOW)
            assert created
            ids["a"] = ident.id
            inserted.set()
            release.wait(10)

    thread = threading.Thread(target=replica_a)
    thread.start()
    assert inserted.wait(10)
    # Replica B does not see A's uncommitted row, tries to insert, blocks on the unique
    # index until A commits, then falls back to the row A created.
    timer = threading.Timer(0.3, release.set)
    timer.start()
    with pg_sessions.begin() as s:
        ident, created = get_or_create_identity(s, keyring, "whatsapp", "+15550009999", now=NOW)
    thread.join(10)
    timer.cancel()
    assert not created and ident.id == ids["a"]
