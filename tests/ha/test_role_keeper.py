"""The bot's role keeper on a real PostgreSQL: one holder per role, a holder that cannot
renew gives the role up before its lease can expire, and a clean stop hands it over."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from medcrypt.bot.app.roles import MARGIN_S, RoleKeeper
from medcrypt.storage import migrate
from medcrypt.storage.db import Engine, make_engine, session_factory
from medcrypt.storage.repos import leases, replicas

pytestmark = pytest.mark.postgres

ROLE = "scheduler"


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    migrate.upgrade(postgres_url)
    eng = make_engine(postgres_url)
    yield eng
    eng.dispose()


def _lease(engine: Engine) -> leases.LeaseRow:
    with session_factory(engine).begin() as s:
        [row] = [r for r in leases.leases(s) if r.role == ROLE]
    return row


async def test_one_holder_and_a_giving_up_before_expiry(engine: Engine) -> None:
    changes: list[tuple[str, str, bool, float]] = []

    def recorder(name: str):
        async def on_change(role: str, held: bool) -> None:
            changes.append((name, role, held, time.monotonic()))
        return on_change

    a = RoleKeeper(engine, [ROLE], ttl_s=2.0, renew_every_s=0.5, on_change=recorder("a"))
    b = RoleKeeper(engine, [ROLE], ttl_s=2.0, renew_every_s=0.5, on_change=recorder("b"))
    await a.tick()
    await b.tick()
    await asyncio.sleep(0)
    assert a.held(ROLE) is not None and b.held(ROLE) is None
    assert 0 < a.budget_s(ROLE) <= 2.0 - MARGIN_S
    epoch = a.held(ROLE)[1]  # type: ignore[index]
    # "a" stops renewing (a database that hangs, a partition): its timer gives the
    # role up while the lease row still has time left by the database's clock.
    deadline = time.monotonic() + 5
    while a.held(ROLE) is not None or not any(c[0] == "a" and not c[2] for c in changes):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    assert _lease(engine).remaining_s > 0, "gave the role up only after the lease expired"
    await asyncio.sleep(MARGIN_S + 0.2)  # now the lease has expired
    await b.tick()
    await asyncio.sleep(0)
    assert b.held(ROLE) == (b.holder, epoch + 1)
    await b.stop()
    row = _lease(engine)
    assert row.remaining_s <= 0  # released: the next replica need not wait out the TTL
    await a.tick()
    assert a.held(ROLE) is not None and a.held(ROLE)[1] == epoch + 2  # type: ignore[index]
    with session_factory(engine).begin() as s:
        assert [r.replica_id for r in replicas.replicas(s)] == [a.holder]  # b left
    await a.stop()


async def test_fenced_sessions_follow_the_local_view(engine: Engine) -> None:
    keeper = RoleKeeper(engine, [ROLE], ttl_s=2.0, renew_every_s=0.5)
    sessions = keeper.sessions(ROLE)
    from medcrypt.storage.repos.leases import LeaseLost

    with pytest.raises(LeaseLost), sessions.begin() as s:
        s.connection()
    await keeper.tick()
    with sessions.begin() as s:
        s.connection()  # held: the fence passes
    await keeper.stop()
    with pytest.raises(LeaseLost), sessions.begin() as s:
        s.connection()
