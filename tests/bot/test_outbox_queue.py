"""Outbox claiming on SQLite and PostgreSQL: head of line per recipient, leases,
SKIP LOCKED on PostgreSQL so two workers never claim the same row."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from bot.messages import OutboundMessage, OutKind, Platform
from bot.outbox import queue
from bot.outbox.backoff import backoff_seconds
from bot.relay.identities import IdentityDirectory
from crypto.clock import FixedClock
from crypto.keyring import Keyring
from storage import migrate
from storage.db import is_sqlite, make_engine, session_factory

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _setup(url: str) -> tuple[object, list[str]]:
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    keyring = Keyring({1: os.urandom(32)})
    directory = IdentityDirectory(keyring, FixedClock(NOW))
    with sessions.begin() as s:
        ids = [directory.resolve(s, Platform.TELEGRAM, str(1000 + i)).identity_id
               for i in range(3)]
        for rid in ids:
            for n in range(3):
                queue.enqueue(s, OutboundMessage(rid, OutKind.NOTICE), [f"n{n}"], NOW)
    return sessions, ids


def test_head_of_line_lease_and_recovery(database_url: str) -> None:
    sessions, ids = _setup(database_url)
    pg = not is_sqlite(sessions.kw["bind"])  # type: ignore[attr-defined]
    lease = timedelta(seconds=30)
    with sessions.begin() as s:  # type: ignore[attr-defined]
        first = queue.claim(s, now=NOW, lease=lease, worker="w1", limit=10, postgres=pg)
        assert sorted(r.dest_identity_id for r in first) == sorted(ids)  # one per recipient
        assert all(queue.body_of(r) == "n0" for r in first)
    with sessions.begin() as s:  # type: ignore[attr-defined]
        assert queue.claim(s, now=NOW, lease=lease, worker="w2", limit=10, postgres=pg) == []
        assert queue.in_doubt(s, now=NOW) == []
        expired = queue.in_doubt(s, now=NOW + lease + timedelta(seconds=1))
        assert len(expired) == 3
    with sessions.begin() as s:  # type: ignore[attr-defined]
        row = s.get(type(first[0]), first[0].id)
        queue.mark_sent(row, "42", NOW)
    with sessions.begin() as s:  # type: ignore[attr-defined]
        nxt = queue.claim(s, now=NOW, lease=lease, worker="w1", limit=10, postgres=pg)
        assert [queue.body_of(r) for r in nxt] == ["n1"]  # only the chat whose head was sent moves


def test_delay_recipient_only_delays_that_recipient(database_url: str) -> None:
    sessions, ids = _setup(database_url)
    pg = not is_sqlite(sessions.kw["bind"])  # type: ignore[attr-defined]
    with sessions.begin() as s:  # type: ignore[attr-defined]
        queue.delay_recipient(s, ids[0], NOW + timedelta(seconds=5), NOW)
    with sessions.begin() as s:  # type: ignore[attr-defined]
        rows = queue.claim(s, now=NOW, lease=timedelta(seconds=30), worker="w", limit=10,
                           postgres=pg)
        assert ids[0] not in {r.dest_identity_id for r in rows} and len(rows) == 2


def test_two_postgres_workers_claim_disjoint_rows(postgres_url: str) -> None:
    sessions, _ = _setup(postgres_url)
    lease = timedelta(seconds=30)
    s1: Session = sessions()  # type: ignore[operator]
    s2: Session = sessions()  # type: ignore[operator]
    try:
        s1.begin()
        s2.begin()
        a = queue.claim(s1, now=NOW, lease=lease, worker="a", limit=2, postgres=True)
        b = queue.claim(s2, now=NOW, lease=lease, worker="b", limit=10, postgres=True)
        assert len(a) == 2
        assert not {r.id for r in a} & {r.id for r in b}
        s1.commit()
        s2.commit()
    finally:
        s1.close()
        s2.close()


def test_backoff_grows_caps_and_jitters() -> None:
    top = [backoff_seconds(n, base=1.0, cap=60.0, rand=lambda: 1.0) for n in range(1, 10)]
    assert top[:4] == [1.0, 2.0, 4.0, 8.0] and max(top) == 60.0
    assert backoff_seconds(3, base=1.0, cap=60.0, rand=lambda: 0.0) == 0.1
