"""Multi-replica behaviour on PostgreSQL: SKIP LOCKED claims and racing first contacts."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from crypto.keyring import Keyring
from storage import migrate
from storage.db import make_engine, session_factory
from storage.repos.identities import get_or_create_identity
from storage.repos.outbox import claim_due, enqueue
from tests.storage.conftest import NOW

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_sessions(postgres_url: str) -> sessionmaker[Session]:
    migrate.upgrade(postgres_url)
    engine = make_engine(postgres_url)
    yield session_factory(engine)
    engine.dispose()


def test_concurrent_claims_take_disjoint_rows(
    pg_sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with pg_sessions.begin() as s:
        dest, _ = get_or_create_identity(s, keyring, "telegram", "31337", now=NOW)
        for i in range(6):
            enqueue(s, dest_identity_id=dest.id, payload_kind="text", payload=b"t%d" % i,
                    now=NOW)
    lease = timedelta(seconds=30)
    first = pg_sessions()
    second = pg_sessions()
    try:
        first.begin()
        a = [m.id for m in claim_due(first, worker="a", now=NOW, lease=lease, limit=4)]
        # `first` still holds row locks: the second replica skips them instead of waiting.
        second.begin()
        b = [m.id for m in claim_due(second, worker="b", now=NOW, lease=lease, limit=4)]
        assert len(a) == 4 and len(b) == 2 and not set(a) & set(b)
        first.commit()
        second.commit()
    finally:
        first.close()
        second.close()


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
