"""PostgreSQL connections are pinged only after idling, and a dead one is still replaced.

``pool_pre_ping`` cost a round trip in every transaction; the engine now pings a pooled
connection only when it sat unused past ``IDLE_PING_SECONDS`` (storage/db.py). What
pre-ping was for must still hold: a connection the server dropped while it idled (a
restart, a failover) is replaced before anyone uses it, not handed out to fail.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from medcrypt.storage import db


def test_a_busy_connection_is_not_pinged(postgres_url: str) -> None:
    engine = db.make_engine(postgres_url)
    pings = 0
    original = engine.dialect.do_ping

    def counting(conn: object) -> bool:
        nonlocal pings
        pings += 1
        return bool(original(conn))

    engine.dialect.do_ping = counting  # type: ignore[method-assign]
    for _ in range(20):
        with engine.begin() as conn:
            conn.execute(text("SELECT 1"))
    engine.dispose()
    assert pings == 0  # pre-ping would have made 20


def test_a_connection_dropped_while_idle_is_replaced_before_use(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.2)
    engine = db.make_engine(postgres_url)
    with engine.connect() as conn:
        victim = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = db.make_engine(postgres_url)
    with admin.begin() as conn:  # the server drops the pooled connection (a restart would)
        conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": victim})
    admin.dispose()
    time.sleep(0.3)
    with engine.connect() as conn:  # pinged, found dead, replaced: no error reaches us
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != victim
    engine.dispose()
