"""On SQLite the database keeps the outbox heads: any write to ``outbox`` - not only the
repository's - leaves every recipient with the right head (migration 0024, ADR 0024
Amendment 1). On PostgreSQL the revision creates nothing; the repository keeps them
(tests/storage/test_outbox_heads.py runs the same walk on both backends).

The writes here are raw Core statements that never call storage.repos.outbox_heads, and
the check is the independent one in tests/support/outbox_heads.py.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.bot.domain.identities import IdentityDirectory
from medcrypt.bot.domain.messages import Platform
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.db import is_sqlite, make_engine, session_factory
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.outbox import OutboxHead, OutboxMessage
from medcrypt.storage.models.pairings import Pairing
from tests.support.outbox_heads import head_violations

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
KEYRING = Keyring({1: os.urandom(32)})
OUTBOX = OutboxMessage.__table__
TRIGGERS = {"outbox_heads_on_insert", "outbox_heads_on_update", "outbox_heads_on_move",
            "outbox_heads_on_delete"}
STATUSES = ("pending", "sending", "held", "sent", "failed")
KINDS = ("text", "notice", "template")


def _open(url: str, recipients: int) -> tuple[sessionmaker[Session], list[str]]:
    migrate.upgrade(url)
    sessions = session_factory(make_engine(url))
    directory = IdentityDirectory(KEYRING, FixedClock(NOW))
    with sessions.begin() as s:
        ids = [directory.resolve(s, Platform.TELEGRAM, str(7000 + i)).identity_id
               for i in range(recipients)]
    return sessions, ids


def _row(dest: str, status: str = "pending", kind: str = "text", due: int = 0,
         pairing: str | None = None) -> dict[str, object]:
    at = NOW + timedelta(seconds=due)
    return {"dest_identity_id": dest, "origin_identity_id": None, "pairing_id": pairing,
            "payload_kind": kind, "payload": b"x", "status": status, "attempts": 0,
            "next_attempt_at": at, "created_at": NOW, "updated_at": NOW}


def _triggers(s: Session) -> set[str]:
    if is_sqlite(s.get_bind()):
        found = s.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                               "AND tbl_name = 'outbox'"))
    else:
        found = s.execute(text("SELECT tgname FROM pg_trigger "
                               "WHERE tgrelid = 'outbox'::regclass AND NOT tgisinternal"))
    return set(found.scalars())


def test_the_triggers_exist_on_sqlite_only_and_go_with_a_downgrade(
        database_url: str) -> None:
    sessions, _ids = _open(database_url, 1)
    sqlite = is_sqlite(sessions.kw["bind"])
    with sessions() as s:
        assert _triggers(s) == (TRIGGERS if sqlite else set())
    migrate.downgrade(database_url, "0023_purpose_deks")
    with sessions() as s:
        assert _triggers(s) == set()
    migrate.upgrade(database_url)
    with sessions() as s:
        assert _triggers(s) == (TRIGGERS if sqlite else set())


# One operation of the walk: (what, recipient or row pick, status, kind, due offset).
_OPS = st.tuples(st.sampled_from(["insert", "insert", "status", "due", "delete", "bulk"]),
                 st.integers(0, 50), st.sampled_from(STATUSES), st.sampled_from(KINDS),
                 st.integers(-30, 30))


@pytest.fixture(scope="module")
def walk_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[sessionmaker[Session], list[str]]:
    path: Path = tmp_path_factory.mktemp("heads") / "walk.db"
    return _open(f"sqlite:///{path}", 3)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_OPS, min_size=1, max_size=25))
def test_raw_writes_of_every_kind_keep_the_heads(
        walk_db: tuple[sessionmaker[Session], list[str]],
        ops: list[tuple[str, int, str, str, int]]) -> None:
    sessions, dests = walk_db
    with sessions.begin() as s:
        s.execute(delete(OutboxMessage))  # the delete trigger empties the heads too
        assert s.scalar(select(OutboxHead.dest_identity_id).limit(1)) is None
    for op, pick, status, kind, due in ops:
        with sessions.begin() as s:
            ids = list(s.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
            row = ids[pick % len(ids)] if ids else None
            if op == "insert" or row is None:
                s.execute(insert(OUTBOX), [_row(dests[pick % len(dests)], status, kind, due)])
            elif op == "status":
                s.execute(update(OUTBOX).where(OUTBOX.c.id == row).values(status=status))
            elif op == "due":
                s.execute(update(OUTBOX).where(OUTBOX.c.id == row).values(
                    next_attempt_at=NOW + timedelta(seconds=due)))
            elif op == "delete":
                s.execute(delete(OUTBOX).where(OUTBOX.c.id == row))
            else:  # one statement over many rows: every row of one recipient
                s.execute(update(OUTBOX).where(
                    OUTBOX.c.dest_identity_id == dests[pick % len(dests)])
                    .values(status=status))
        with sessions() as s:
            assert head_violations(s) == [], (op, pick, status, kind, due)


def test_a_pairing_deleted_with_queued_rows_moves_its_members_heads(sqlite_url: str) -> None:
    sessions, (doctor, patient, other) = _open(sqlite_url, 3)
    with sessions.begin() as s:
        s.add(Pairing(pairing_id="q" * 32, physician_id=doctor, patient_id=patient,
                      status="active", start_epoch=1, grace_days=7, offer_expires_at=NOW,
                      created_at=NOW))
    with sessions.begin() as s:
        s.execute(insert(OUTBOX), [_row(doctor, pairing="q" * 32),
                                   _row(doctor),  # a notice of no pairing: it stays
                                   _row(patient, pairing="q" * 32),
                                   _row(other)])
    with sessions.begin() as s:  # the cascade deletes the pairing's rows one by one
        s.execute(delete(Pairing).where(Pairing.pairing_id == "q" * 32))
    with sessions() as s:
        assert head_violations(s) == []
        assert set(s.scalars(select(OutboxHead.dest_identity_id))) == {doctor, other}


def test_a_recipient_deleted_with_queued_rows_leaves_no_head(sqlite_url: str) -> None:
    """The recipient's cascades remove its rows one by one, and its head: the delete
    trigger, recomputing that head on each row, must not leave one behind."""
    sessions, (gone, stays) = _open(sqlite_url, 2)
    with sessions.begin() as s:
        s.execute(insert(OUTBOX), [_row(gone), _row(gone, "held"), _row(gone), _row(stays)])
    with sessions.begin() as s:
        s.execute(delete(PlatformIdentity).where(PlatformIdentity.id == gone))
    with sessions() as s:
        assert head_violations(s) == []
        assert list(s.scalars(select(OutboxHead.dest_identity_id))) == [stays]
