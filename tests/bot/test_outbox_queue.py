"""Outbox claiming on SQLite and PostgreSQL: head of line per recipient, leases,
SKIP LOCKED on PostgreSQL so two workers never claim the same row."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcrypt.bot.app.wiring import build_services
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.identities import IdentityDirectory
from medcrypt.bot.domain.messages import OutboundMessage, OutKind, Platform
from medcrypt.bot.outbox import queue
from medcrypt.bot.outbox.backoff import backoff_seconds
from medcrypt.bot.outbox.worker import OutboxWorker
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.db import is_sqlite, make_engine, session_factory
from medcrypt.storage.models.outbox import EarlyReceipt, OutboxMessage
from medcrypt.storage.repos import outbox as rows
from tests.support.databases import migrated

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
#: One server keyring for the queue set-up and the workers that read its addresses.
KEYRING = Keyring({1: os.urandom(32)})


def _setup(url: str) -> tuple[object, list[str]]:
    engine = make_engine(migrated(url))
    sessions = session_factory(engine)
    directory = IdentityDirectory(KEYRING, FixedClock(NOW))
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
    # PostgreSQL leases run on the server's clock: short, and waited out for real.
    lease = timedelta(seconds=1.5 if pg else 30)
    with sessions.begin() as s:  # type: ignore[attr-defined]
        first = rows.claim(s, now=NOW, lease=lease, worker="w1", limit=10, postgres=pg)
        assert sorted(r.dest_identity_id for r in first) == sorted(ids)  # one per recipient
        assert all(queue.body_of(r) == "n0" for r in first)
    with sessions.begin() as s:  # type: ignore[attr-defined]
        assert rows.claim(s, now=NOW, lease=lease, worker="w2", limit=10, postgres=pg) == []
        assert rows.in_doubt(s, now=NOW, postgres=pg) == []
    if pg:
        time.sleep(lease.total_seconds() + 0.2)
    with sessions.begin() as s:  # type: ignore[attr-defined]
        expired = rows.in_doubt(s, now=NOW + lease + timedelta(seconds=1), postgres=pg)
        assert len(expired) == 3
    with sessions.begin() as s:  # type: ignore[attr-defined]
        assert rows.mark_sent_many(s, [(rows.claim_of(first[0]), "42")], NOW) == 1
    with sessions.begin() as s:  # type: ignore[attr-defined]
        nxt = rows.claim(s, now=NOW, lease=lease, worker="w1", limit=10, postgres=pg)
        assert [queue.body_of(r) for r in nxt] == ["n1"]  # only the chat whose head was sent moves


def test_delay_recipient_only_delays_that_recipient(database_url: str) -> None:
    sessions, ids = _setup(database_url)
    pg = not is_sqlite(sessions.kw["bind"])  # type: ignore[attr-defined]
    with sessions.begin() as s:  # type: ignore[attr-defined]
        rows.delay_recipient(s, ids[0], NOW + timedelta(seconds=5), NOW)
    with sessions.begin() as s:  # type: ignore[attr-defined]
        due = rows.claim(s, now=NOW, lease=timedelta(seconds=30), worker="w", limit=10,
                         postgres=pg)
        assert ids[0] not in {r.dest_identity_id for r in due} and len(due) == 2


def test_two_postgres_workers_claim_disjoint_rows(postgres_url: str) -> None:
    sessions, _ = _setup(postgres_url)
    lease = timedelta(seconds=30)
    s1: Session = sessions()  # type: ignore[operator]
    s2: Session = sessions()  # type: ignore[operator]
    try:
        s1.begin()
        s2.begin()
        a = rows.claim(s1, now=NOW, lease=lease, worker="a", limit=2, postgres=True)
        b = rows.claim(s2, now=NOW, lease=lease, worker="b", limit=10, postgres=True)
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


def _worker(sessions: object) -> OutboxWorker:
    """A worker as a freshly started bot builds it (no sends are made in these tests)."""
    services = build_services(parse_settings({}), FixedClock(NOW), environ={}, keyring=KEYRING,
                              engine=sessions.kw["bind"])  # type: ignore[attr-defined]
    return OutboxWorker(services, {})


def _claimed(database_url: str) -> tuple[Any, rows.Claim]:
    """A fresh queue and the claim of one row claimed from it (as a worker would)."""
    sessions, _ = _setup(database_url)
    pg = not is_sqlite(sessions.kw["bind"])  # type: ignore[attr-defined]
    with sessions.begin() as s:  # type: ignore[attr-defined]
        row = rows.claim(s, now=NOW, lease=timedelta(seconds=30), worker="w", limit=1,
                         postgres=pg)[0]
    return sessions, rows.claim_of(row)


def test_a_receipt_that_overtakes_its_send_survives_a_restart(database_url: str) -> None:
    """Twilio may call back before ``create`` returns; a restart in between loses nothing."""
    sessions, claim = _claimed(database_url)
    row_id = claim.row_id
    _worker(sessions).record_status("SM-early", "delivered", None)  # before the SID is known
    with sessions() as s:  # type: ignore[operator]
        assert s.scalar(select(func.count()).select_from(EarlyReceipt)) == 1
    restarted = _worker(sessions)  # another process: the restarted bot
    restarted._record_sent_many([(claim, "SM-early")])
    asyncio.run(restarted.recover())  # its periodic round applies what was stashed before
    with sessions() as s:  # type: ignore[operator]
        done = s.get(OutboxMessage, row_id)
        assert done is not None and done.status == "sent"
        assert done.delivery_status == "delivered" and done.delivered_at is not None
        assert s.scalar(select(func.count()).select_from(EarlyReceipt)) == 0


def test_an_early_failure_receipt_fails_the_row_once_recorded(database_url: str) -> None:
    sessions, claim = _claimed(database_url)
    row_id = claim.row_id
    worker = _worker(sessions)
    worker.record_status("SM-x", "sent", None)
    worker.record_status("SM-x", "undelivered", "30008")
    worker._record_sent_many([(claim, "SM-x")])
    with sessions() as s:  # type: ignore[operator]
        done = s.get(OutboxMessage, row_id)
        assert done is not None and done.status == "failed"
        assert done.delivery_status == "undelivered" and done.last_error_code == "30008"


def test_receipts_only_move_forward_and_delivery_drops_the_payload(database_url: str) -> None:
    sessions, claim = _claimed(database_url)
    row_id = claim.row_id
    with sessions.begin() as s:  # type: ignore[attr-defined]
        rows.mark_sent_many(s, [(claim, "SM-1")], NOW)
    with sessions.begin() as s:  # type: ignore[attr-defined]
        assert rows.advance_status(s, "SM-unknown", "sent", None, NOW) is None
        assert rows.advance_status(s, "SM-1", "delivered", None, NOW) is True
        assert rows.advance_status(s, "SM-1", "sent", None, NOW) is False  # late, older
        assert rows.advance_status(s, "SM-1", "read", None, NOW) is True
    with sessions() as s:  # type: ignore[operator]
        done = s.get(OutboxMessage, row_id)
        assert done is not None and done.status == "sent"
        assert done.delivery_status == "read" and done.payload == b""
        assert done.delivered_at is not None and done.platform_message_id == "SM-1"


class _Instant:
    """A platform that accepts every send at once (no HTTP: the worker's own cost)."""

    def __init__(self) -> None:
        self.n = 0

    async def send(self, d: object) -> str:
        self.n += 1
        return f"SM-{self.n}"

    async def lookup(self, d: object, since: float) -> None:
        return None


def test_sends_answered_together_are_marked_in_one_commit(database_url: str) -> None:
    from sqlalchemy import event

    sessions, ids = _setup(database_url)
    worker = _worker(sessions)
    worker._senders = {Platform.TELEGRAM: _Instant()}  # type: ignore[dict-item]
    engine = sessions.kw["bind"]  # type: ignore[attr-defined]
    commits: list[int] = []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    assert asyncio.run(worker.run_once()) == len(ids)  # one head row per recipient
    assert len(commits) == 2  # the claim, then one commit for every answered send
    with sessions() as s:  # type: ignore[operator]
        sent = s.scalars(select(OutboxMessage).where(OutboxMessage.status == "sent")).all()
        assert sorted(r.platform_message_id for r in sent) == ["SM-1", "SM-2", "SM-3"]
        assert all(r.sent_at is not None and r.claimed_until is None for r in sent)


def test_receipts_heard_together_are_committed_together(database_url: str) -> None:
    from sqlalchemy import event

    sessions, claim = _claimed(database_url)
    row_id = claim.row_id
    with sessions.begin() as s:  # type: ignore[attr-defined]
        rows.mark_sent_many(s, [(claim, "SM-1")], NOW)
    worker = _worker(sessions)
    commits: list[int] = []
    event.listen(sessions.kw["bind"], "commit", lambda conn: commits.append(1))  # type: ignore[attr-defined]

    async def webhooks() -> None:  # three callbacks arriving in one event-loop pass
        await asyncio.gather(worker.record_status_soon("SM-1", "sent", None),
                             worker.record_status_soon("SM-1", "delivered", None),
                             worker.record_status_soon("SM-early", "read", None))

    asyncio.run(webhooks())
    assert len(commits) == 1
    with sessions() as s:  # type: ignore[operator]
        done = s.get(OutboxMessage, row_id)
        assert done is not None and done.delivery_status == "delivered"
        assert s.scalar(select(EarlyReceipt.platform_message_id)) == "SM-early"
