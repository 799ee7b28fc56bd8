"""The outbox heads stay right under every change the repositories make (ADR 0024).

A seeded random walk drives the real repository functions - enqueue, deferred rows,
notices, claims, every outcome, receipts that re-open a sent row, erasure, shredding -
and after each committed step checks, independently of the repository's SQL
(tests/support/outbox_heads.py), that every recipient with a waiting row has exactly one
correct head and that a claim only ever takes a recipient's lowest waiting row. The
PostgreSQL tests race an enqueue against a head advance in both orders, and many
enqueuers against draining workers.
"""

from __future__ import annotations

import os
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.bot.domain.identities import IdentityDirectory
from medcrypt.bot.domain.messages import Platform
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.db import is_sqlite, make_engine, session_factory
from medcrypt.storage.models.outbox import OutboxHead, OutboxMessage
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.repos import outbox as rows
from medcrypt.storage.repos import shred
from tests.support.outbox_heads import expected_heads, head_violations
from tests.support.storage import legacy_identity

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KEYRING = Keyring({1: os.urandom(32)})
LEASE = timedelta(seconds=30)
PAIRING = "p" * 32


def _open(url: str, recipients: int, *, legacy: bool = False,
          ) -> tuple[sessionmaker[Session], list[str], bool]:
    """``legacy``: identities as code before 0021 wrote them, for a test that steps the
    schema back below it (0021 refuses to strand identities sealed under the key tree)."""
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    directory = IdentityDirectory(KEYRING, FixedClock(NOW))
    with sessions.begin() as s:
        ids = ([legacy_identity(s, KEYRING, "telegram", str(5000 + i))
                for i in range(recipients)] if legacy else
               [directory.resolve(s, Platform.TELEGRAM, str(5000 + i)).identity_id
                for i in range(recipients)])
        if recipients >= 2:  # one pairing, for the notices jobs queue to both members
            s.add(Pairing(pairing_id=PAIRING, physician_id=ids[0], patient_id=ids[1],
                          status="active", start_epoch=1, grace_days=7,
                          offer_expires_at=NOW, created_at=NOW))
    return sessions, ids, not is_sqlite(engine)


def _enqueue(s: Session, dest: str, n: int, kind: str = "notice",
             at: datetime = NOW) -> list[int]:
    return rows.enqueue(s, recipient_id=dest, origin_id=None, pairing_id=None,
                        payload_kind=kind, payloads=[b"x"] * n, now=at)


class _Walk:
    """One random step at a time against the repository, the clock moving forward."""

    def __init__(self, sessions: sessionmaker[Session], dests: list[str], pg: bool,
                 seed: int) -> None:
        self.sessions, self.dests, self.pg = sessions, dests, pg
        self.rand = random.Random(seed)
        self.now = NOW
        self.claims: list[rows.Claim] = []
        self.keys: list[str] = []
        self.claimed = 0

    def step(self) -> None:
        r = self.rand
        self.now += timedelta(seconds=r.choice((0, 1, 5)))
        dest = r.choice(self.dests)
        op = r.choice(("enqueue", "enqueue", "template", "deferred", "reschedule", "cancel",
                       "notices", "members", "claim", "claim", "outcome", "outcome",
                       "release", "delay", "drop", "shred", "reopen"))
        with self.sessions.begin() as s:
            getattr(self, f"_{op}")(s, dest)

    def _enqueue(self, s: Session, dest: str) -> None:
        _enqueue(s, dest, self.rand.randint(1, 3), at=self.now)

    def _template(self, s: Session, dest: str) -> None:
        _enqueue(s, dest, 1, "template", at=self.now)

    def _deferred(self, s: Session, dest: str) -> None:
        key = f"k{len(self.keys)}"
        self.keys.append(key)
        rows.enqueue_deferred(s, recipient_id=dest, payload_kind="notice", payload=b"d",
                              dedupe_key=key, due=self.now + timedelta(seconds=20),
                              now=self.now)

    def _reschedule(self, s: Session, dest: str) -> None:
        if self.keys:
            rows.reschedule_deferred(s, self.rand.sample(self.keys, 1),
                                     self.now + timedelta(seconds=3), self.now)

    def _cancel(self, s: Session, dest: str) -> None:
        if self.keys:
            rows.cancel_deferred(s, self.rand.sample(self.keys, 1))

    def _notices(self, s: Session, dest: str) -> None:
        picked = self.rand.sample(self.dests, 3)
        rows.queue_notices(s, [rows.Notice(d, PAIRING, "n", f"nk{self.now}{d}")
                               for d in picked], self.now)

    def _members(self, s: Session, dest: str) -> None:
        rows.queue_member_notices(s, [PAIRING], text="m", dedupe_head=f"m{self.now}:",
                                  dedupe_middle=":", now=self.now)

    def _claim(self, s: Session, dest: str) -> None:
        before = expected_heads(s)
        got = rows.claim(s, now=self.now, lease=LEASE, worker="w", limit=self.rand.randint(1, 4),
                         postgres=self.pg)
        for row in got:
            if row.payload_kind != "template":  # head of line: only the lowest waiting row
                assert before[row.dest_identity_id][0] == row.id
        self.claims += [rows.claim_of(r) for r in got]
        self.claimed += len(got)

    def _outcome(self, s: Session, dest: str) -> None:
        if not self.claims:
            return
        claim = self.claims.pop(self.rand.randrange(len(self.claims)))
        what = self.rand.choice(("sent", "sent", "retry", "hold", "dead"))
        if what == "sent":
            rows.mark_sent_many(s, [(claim, f"SM{claim.row_id}")], self.now)
            return
        if rows.get_claimed(s, claim) is None:
            return
        if what == "retry":
            rows.mark_retry(s, claim.row_id, self.now + timedelta(seconds=2), "x", self.now)
        elif what == "hold":
            rows.hold(s, claim.row_id, "63016", self.now)
        else:
            rows.mark_dead(s, claim.row_id, "x", self.now)

    def _release(self, s: Session, dest: str) -> None:
        rows.release_held(s, dest, self.now)

    def _delay(self, s: Session, dest: str) -> None:
        rows.delay_recipient(s, dest, self.now + timedelta(seconds=4), self.now)

    def _drop(self, s: Session, dest: str) -> None:
        if self.rand.random() < 0.2:
            rows.drop_queued_for(s, dest)

    def _shred(self, s: Session, dest: str) -> None:
        waiting = s.scalars(select(OutboxMessage.id).where(
            OutboxMessage.status.in_(("pending", "held")))).all()
        if waiting:
            shred.delete_outbox_rows(s, [self.rand.choice(waiting)])

    def _reopen(self, s: Session, dest: str) -> None:
        """A failure receipt holds a row that was already sent (window closed)."""
        sent = s.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "sent")).all()
        if sent:
            rows.hold(s, self.rand.choice(sent), "63016", self.now)


def test_every_waiting_recipient_has_exactly_one_correct_head(database_url: str) -> None:
    sessions, dests, pg = _open(database_url, 6)
    walk = _Walk(sessions, dests, pg, seed=18)
    for n in range(400):
        walk.step()
        with sessions() as s:
            assert head_violations(s) == [], f"after step {n}"
    assert walk.claimed > 40  # the walk really drained, not only queued


def test_the_repair_sweep_restores_heads_broken_behind_its_back(database_url: str) -> None:
    sessions, dests, pg = _open(database_url, 4)
    with sessions.begin() as s:
        for d in dests:
            _enqueue(s, d, 3)
    with sessions.begin() as s:  # what no repository does: heads lost, moved, made stale
        s.execute(OutboxHead.__table__.delete().where(
            OutboxHead.dest_identity_id == dests[0]))
        s.execute(update(OutboxHead).where(OutboxHead.dest_identity_id == dests[1])
                  .values(head_id=OutboxHead.head_id + 1))
        s.execute(update(OutboxHead).where(OutboxHead.dest_identity_id == dests[2])
                  .values(due_at=None))
        # A raw outbox write: on SQLite its trigger keeps the head (migration 0024).
        s.execute(OutboxMessage.__table__.update().where(
            OutboxMessage.dest_identity_id == dests[3]).values(status="sent"))
        broken = head_violations(s)
        assert len(broken) == (4 if pg else 3)
    with sessions.begin() as s:
        assert rows.repair_heads(s) == len(broken)
    with sessions() as s:
        assert head_violations(s) == []
    with sessions.begin() as s:
        assert rows.repair_heads(s) == 0  # nothing left to repair


def test_a_claim_recomputes_a_head_whose_row_is_gone(database_url: str) -> None:
    sessions, dests, pg = _open(database_url, 1)
    with sessions.begin() as s:
        first, second = _enqueue(s, dests[0], 2)
    with sessions.begin() as s:  # a cascade from another table, behind the heads' back
        s.execute(OutboxMessage.__table__.delete().where(OutboxMessage.id == first))
        # SQLite's delete trigger moved the head on (migration 0024): put it back where
        # a database without the trigger leaves it, on the row that is gone.
        s.execute(update(OutboxHead).where(OutboxHead.dest_identity_id == dests[0])
                  .values(head_id=first, due_at=NOW))
    with sessions.begin() as s:
        assert rows.claim(s, now=NOW, lease=LEASE, worker="w", limit=5, postgres=pg) == []
    with sessions.begin() as s:
        got = rows.claim(s, now=NOW, lease=LEASE, worker="w", limit=5, postgres=pg)
        assert [r.id for r in got] == [second]


def _hold_open(sessions: sessionmaker[Session], work: Any, started: threading.Event,
               release: threading.Event, errors: list[BaseException]) -> threading.Thread:
    """Run ``work(session)`` in a transaction that stays open until ``release``."""
    def run() -> None:
        try:
            with sessions.begin() as s:
                work(s)
                started.set()
                release.wait(10)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)
            started.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _race(postgres_url: str, enqueue_first: bool) -> None:
    sessions, dests, _pg = _open(postgres_url, 1)
    dest = dests[0]
    with sessions.begin() as s:
        [row_id] = _enqueue(s, dest, 1)
    with sessions.begin() as s:
        [claimed] = rows.claim(s, now=NOW, lease=LEASE, worker="w", limit=1, postgres=True)
    claim = rows.claim_of(claimed)
    started, release, errors = threading.Event(), threading.Event(), []

    def enqueue(s: Session) -> None:
        _enqueue(s, dest, 1)

    def advance(s: Session) -> None:  # the only row is sent: the head would go
        assert rows.mark_sent_many(s, [(claim, "SM1")], NOW) == 1

    first, second = (enqueue, advance) if enqueue_first else (advance, enqueue)
    holder = _hold_open(sessions, first, started, release, errors)
    assert started.wait(10)
    other = threading.Thread(target=lambda: _run(sessions, second, errors))
    other.start()
    other.join(0.5)
    assert other.is_alive(), "the second transaction did not wait for the head's lock"
    release.set()
    holder.join(10)
    other.join(10)
    assert errors == []
    with sessions() as s:
        assert head_violations(s) == []
        head = s.get(OutboxHead, dest)
        assert head is not None and head.head_id > row_id  # the new row is not stranded


def _run(sessions: sessionmaker[Session], work: Any, errors: list[BaseException]) -> None:
    try:
        with sessions.begin() as s:
            work(s)
    except BaseException as exc:  # handed to the test thread
        errors.append(exc)


def test_an_enqueue_racing_a_head_advance_is_never_stranded(postgres_url: str) -> None:
    _race(postgres_url, enqueue_first=True)


def test_a_head_advance_racing_an_enqueue_is_never_stranded(postgres_url: str) -> None:
    _race(postgres_url, enqueue_first=False)


def test_concurrent_enqueuers_and_drainers_keep_order_and_heads(postgres_url: str) -> None:
    """Four threads enqueue, two drain, all at once; every row goes out once, the parts
    of one message (one transaction) in order, and the heads are right at the end.

    Order *between* transactions is not promised: ids are drawn before commit, so of two
    messages racing to one chat the later id may commit - and go out - first.
    """
    sessions, dests, _pg = _open(postgres_url, 5)
    errors: list[BaseException] = []
    sent: list[int] = []
    batches: list[list[int]] = []
    lock = threading.Lock()
    done = threading.Event()

    def enqueuer(seed: int) -> None:
        rand = random.Random(seed)
        for _ in range(60):
            def one(s: Session) -> None:
                ids = _enqueue(s, rand.choice(dests), rand.randint(1, 3))
                with lock:
                    batches.append(ids)
            _run(sessions, one, errors)

    def drainer(name: str) -> None:
        while not done.is_set() or _waiting(sessions):
            with sessions.begin() as s:
                got = rows.claim(s, now=NOW, lease=LEASE, worker=name, limit=3, postgres=True)
            if got:
                # Record the dispatch order before the outcome commits: the commit is what
                # makes the recipient's next row claimable, so recording after it could
                # list a successor (sent by the other drainer) first.
                with lock:
                    sent.extend(r.id for r in got)
                with sessions.begin() as s:
                    rows.mark_sent_many(s, [(rows.claim_of(r), f"SM{r.id}") for r in got], NOW)

    producers = [threading.Thread(target=enqueuer, args=(i,)) for i in range(4)]
    consumers = [threading.Thread(target=lambda n=n: _run_drainer(drainer, n, errors))
                 for n in ("a", "b")]
    for t in producers + consumers:
        t.start()
    for t in producers:
        t.join(120)
    done.set()
    for t in consumers:
        t.join(120)
    assert errors == []
    with sessions() as s:
        assert head_violations(s) == []
        queued = s.scalars(select(OutboxMessage.id)).all()
    assert sorted(sent) == sorted(queued)  # every row once
    position = {row_id: n for n, row_id in enumerate(sent)}
    for ids in batches:
        assert [position[i] for i in ids] == sorted(position[i] for i in ids)


def _run_drainer(drainer: Any, name: str, errors: list[BaseException]) -> None:
    try:
        drainer(name)
    except BaseException as exc:  # handed to the test thread
        errors.append(exc)


def _waiting(sessions: sessionmaker[Session]) -> bool:
    with sessions() as s:
        return s.scalar(select(OutboxMessage.id).where(
            OutboxMessage.status.in_(("pending", "sending"))).limit(1)) is not None


def test_the_migration_gives_queues_pending_at_upgrade_their_heads(database_url: str) -> None:
    """Rows queued before 0017 (rebuilt here by stepping back to 0014 and up again) get
    heads, so an upgrade strands no queue."""
    sessions, dests, pg = _open(database_url, 3, legacy=True)
    with sessions.begin() as s:
        _enqueue(s, dests[0], 3)
        _enqueue(s, dests[1], 2)
        _enqueue(s, dests[2], 1, "template")
    with sessions.begin() as s:
        got = rows.claim(s, now=NOW, lease=LEASE, worker="w", limit=5, postgres=pg)
        held = next(r for r in got if r.dest_identity_id == dests[1])
        rows.hold(s, held.id, "63016", NOW)
    sessions.kw["bind"].dispose()
    migrate.downgrade(database_url, "0014_shred_uses_confirmations")
    migrate.upgrade(database_url)
    with sessions() as s:
        assert head_violations(s) == []
        assert len(expected_heads(s)) == 2
