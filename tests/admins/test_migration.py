"""Migration 0010 on a database made by 0009, on SQLite and PostgreSQL: stored
MessageSids keep refusing replays, Telegram's keyed hashes go, each existing admin
identity becomes a person of its own, and the way back works."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa

from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.repos.inbound import record_inbound

AT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
BEFORE = "0009_job_reference_namespace"
SID = "SM" + "ab" * 16
X, Y = "a" * 32, "b" * 32


def _insert(conn: sa.Connection, table: str, rows: list[dict[str, object]]) -> None:
    names = list(rows[0])
    conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(names)}) VALUES "
                         f"({', '.join(':' + n for n in names)})"), rows)


def test_inbound_keys_become_hashes_and_keep_refusing_replays(database_url: str) -> None:
    migrate.upgrade(database_url, BEFORE)
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            _insert(conn, "inbound_keys", [
                {"platform": "whatsapp", "platform_message_id": SID, "received_at": AT},
                {"platform": "telegram", "platform_message_id": "c0" * 32, "received_at": AT}])
        migrate.upgrade(database_url)
        with engine.connect() as conn:
            keys = conn.execute(sa.text("SELECT platform, key_sha256 FROM inbound_keys")).all()
        assert [(p, bytes(k)) for p, k in keys] == [
            ("whatsapp", hashlib.sha256(SID.encode()).digest())]
        with session_factory(engine).begin() as s:  # the stored sid still refuses a replay
            assert not record_inbound(s, "whatsapp", SID, now=AT)
        migrate.check(database_url)

        migrate.downgrade(database_url, BEFORE)
        with engine.connect() as conn:
            back = conn.execute(sa.text(
                "SELECT platform, platform_message_id FROM inbound_keys")).all()
        assert back == [("whatsapp", hashlib.sha256(SID.encode()).hexdigest())]
    finally:
        engine.dispose()
