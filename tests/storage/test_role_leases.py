"""Role leases on a real PostgreSQL: takeover only after expiry, fencing by epoch, and a
takeover that waits for a write that passed the fence (issue 18, ADR 0032)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.storage import migrate
from medcrypt.storage.db import Engine, make_engine, session_factory
from medcrypt.storage.fence import fenced_sessions
from medcrypt.storage.repos import leases, replicas
from medcrypt.storage.repos.leases import LeaseLost

pytestmark = pytest.mark.postgres

ROLE = "scheduler"


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    migrate.upgrade(postgres_url)
    eng = make_engine(postgres_url)
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE role_writes (epoch BIGINT, note TEXT)"))
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


def _acquire(sessions: sessionmaker[Session], holder: str, ttl: float) -> leases.Grant | None:
    with sessions.begin() as s:
        return leases.acquire(s, ROLE, holder, ttl)


def _writes(sessions: sessionmaker[Session]) -> list[tuple[int, str]]:
    with sessions.begin() as s:
        return [(int(r[0]), str(r[1])) for r in s.execute(text(
            "SELECT epoch, note FROM role_writes ORDER BY epoch, note"))]


def test_one_holder_until_expiry_then_a_new_epoch(sessions: sessionmaker[Session]) -> None:
    a = _acquire(sessions, "a", 0.6)
    assert a is not None and a.epoch == 1 and 0 < a.remaining_s <= 0.6
    assert _acquire(sessions, "b", 5) is None  # held: nobody else gets it
    with sessions.begin() as s:
        assert leases.renew(s, ROLE, "a", 1, 0.6) is not None
    time.sleep(0.8)
    b = _acquire(sessions, "b", 5)
    assert b is not None and b.epoch == 2
    with sessions.begin() as s:  # the old holder cannot renew its way back
        assert leases.renew(s, ROLE, "a", 1, 5) is None
        rows = leases.leases(s)
    assert [(r.role, r.holder, r.epoch) for r in rows] == [(ROLE, "b", 2)]
    assert rows[0].remaining_s > 4


def test_release_lets_the_next_replica_in_at_once(sessions: sessionmaker[Session]) -> None:
    a = _acquire(sessions, "a", 30)
    assert a is not None
    with sessions.begin() as s:
        assert leases.release(s, ROLE, "a", a.epoch)
    b = _acquire(sessions, "b", 30)
    assert b is not None and b.epoch == a.epoch + 1


def test_a_stale_epoch_writes_nothing(engine: Engine, sessions: sessionmaker[Session]) -> None:
    a = _acquire(sessions, "a", 0.3)
    assert a is not None
    held: dict[str, tuple[str, int] | None] = {"a": ("a", a.epoch)}
    fenced = fenced_sessions(engine, ROLE, lambda: held["a"], idle_timeout_ms=2000)
    with fenced.begin() as s:
        s.execute(text("INSERT INTO role_writes VALUES (1, 'while held')"))
    time.sleep(0.5)
    assert _acquire(sessions, "b", 5) is not None
    # "a" still believes it holds epoch 1 (a paused process that just woke up).
    with pytest.raises(LeaseLost), fenced.begin() as s:
        s.execute(text("INSERT INTO role_writes VALUES (1, 'stale')"))
    held["a"] = None  # and a replica that knows it lost the role does not even ask
    with pytest.raises(LeaseLost), fenced.begin() as s:
        s.execute(text("INSERT INTO role_writes VALUES (1, 'not held')"))
    assert _writes(sessions) == [(1, "while held")]


def test_a_takeover_waits_for_a_write_that_passed_the_fence(
        engine: Engine, sessions: sessionmaker[Session]) -> None:
    """The attack: holder A passes the fence, then stalls until its lease has expired and
    B has taken over; A's write must not land inside B's epoch. With the lease row read
    without FOR KEY SHARE, B's acquire returns at once and both epochs write at the same
    time (the test fails); with it, B waits until A's transaction ended."""
    a = _acquire(sessions, "a", 0.5)
    assert a is not None
    fenced = fenced_sessions(engine, ROLE, lambda: ("a", a.epoch), idle_timeout_ms=5000)
    passed, resume = threading.Event(), threading.Event()
    order: list[str] = []

    def holder_a() -> None:
        with fenced.begin() as s:
            s.execute(text("SELECT 1"))  # BEGIN ran the fence
            passed.set()
            resume.wait(10)
            s.execute(text("INSERT INTO role_writes VALUES (1, 'late but fenced')"))
            order.append("a committed")

    thread = threading.Thread(target=holder_a)
    thread.start()
    assert passed.wait(10)
    time.sleep(0.7)  # A's lease has expired by the database's clock
    got: list[leases.Grant | None] = []
    taker = threading.Thread(target=lambda: (got.append(_acquire(sessions, "b", 5)),
                                             order.append("b acquired")))
    taker.start()
    taker.join(0.8)
    assert taker.is_alive(), "the takeover did not wait for the fenced transaction"
    resume.set()
    thread.join(10)
    taker.join(10)
    assert order == ["a committed", "b acquired"]
    assert got[0] is not None and got[0].epoch == 2


def test_a_paused_holder_is_cut_off_by_the_idle_timeout(
        engine: Engine, sessions: sessionmaker[Session]) -> None:
    """A holder stopped mid-transaction cannot keep a takeover waiting: the server ends
    its session after the fenced transaction's idle timeout and rolls its write back."""
    a = _acquire(sessions, "a", 0.3)
    assert a is not None
    fenced = fenced_sessions(engine, ROLE, lambda: ("a", a.epoch), idle_timeout_ms=400)
    s = fenced()
    s.begin()
    s.execute(text("INSERT INTO role_writes VALUES (1, 'never committed')"))
    time.sleep(0.4)
    started = time.monotonic()
    b = _acquire(sessions, "b", 5)
    assert b is not None and b.epoch == 2
    assert time.monotonic() - started < 2
    with pytest.raises(DBAPIError):
        s.execute(text("INSERT INTO role_writes VALUES (1, 'after the cut')"))
        s.commit()
    s.close()
    assert _writes(sessions) == []


def test_replicas_heartbeat_and_leave(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        replicas.beat(s, "host1:10:aa", "host1", 10)
        replicas.beat(s, "host2:20:bb", "host2", 20)
    time.sleep(0.2)
    with sessions.begin() as s:
        replicas.beat(s, "host1:10:aa", "host1", 10)
    with sessions.begin() as s:
        rows = {r.replica_id: r for r in replicas.replicas(s)}
    assert set(rows) == {"host1:10:aa", "host2:20:bb"}
    assert rows["host1:10:aa"].seen_ago_s < rows["host2:20:bb"].seen_ago_s
    with sessions.begin() as s:
        replicas.gone(s, "host2:20:bb")
        assert [r.replica_id for r in replicas.replicas(s)] == ["host1:10:aa"]
