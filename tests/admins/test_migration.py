"""Migration 0013 on a database made by 0012, on SQLite and PostgreSQL: stored
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
BEFORE = "0012_guard_pieces"
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


def test_each_admin_identity_becomes_a_person_of_its_own(database_url: str) -> None:
    migrate.upgrade(database_url, BEFORE)
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            _insert(conn, "platform_identities", [
                {"id": i, "platform": "telegram", "role": "admin", "created_at": AT}
                for i in (X, Y)])
            _insert(conn, "clinic_admins", [
                {"id": "1" * 32, "platform": "telegram", "identity_id": X,
                 "address_bidx": None, "added_by": None, "added_at": AT, "removed_at": AT},
                {"id": "2" * 32, "platform": "telegram", "identity_id": X,
                 "address_bidx": None, "added_by": Y, "added_at": AT, "removed_at": None},
                {"id": "3" * 32, "platform": "telegram", "identity_id": Y,
                 "address_bidx": None, "added_by": X, "added_at": AT, "removed_at": None},
                {"id": "4" * 32, "platform": "whatsapp", "identity_id": None,
                 "address_bidx": b"\x01" * 34, "added_by": None, "added_at": AT,
                 "removed_at": None}])
        migrate.upgrade(database_url)
        with engine.connect() as conn:
            person = dict(conn.execute(sa.text(
                "SELECT id, person_id FROM clinic_admins")).all())
            persons = conn.execute(sa.text("SELECT count(*) FROM admin_persons")).scalar()
        assert person["1" * 32] == person["2" * 32]  # one identity, one person
        assert len({person["2" * 32], person["3" * 32], person["4" * 32]}) == 3
        assert persons == 3
        migrate.check(database_url)

        migrate.downgrade(database_url, BEFORE)
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("clinic_admins")}
            tables = set(sa.inspect(conn).get_table_names())
            grants = conn.execute(sa.text("SELECT count(*) FROM clinic_admins")).scalar()
        assert "person_id" not in columns and grants == 4
        assert not {"admin_persons", "confirmations"} & tables
    finally:
        engine.dispose()
