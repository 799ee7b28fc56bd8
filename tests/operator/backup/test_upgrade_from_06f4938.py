"""The upgrade path: a database the bot wrote at commit 06f4938 migrates to head, nothing lost.

The fixture is the database of that commit's own end-to-end demo (pairing, messages both
ways, a rotation and a shred sweep, break-glass, audit checkpoints), made by
tests/fixtures/make_db_06f4938.py, which records how. Here a copy is migrated to head and
held to three things: every row of every table is still there (a column kept by the
migrations keeps its values), every sealed value still opens under the demo's keyring,
and the audit log still verifies under the demo's checkpoint key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sqlite3
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.audit import CheckpointSigner
from medcrypt.crypto.server.keyring import Keyring, parse_server_keys
from medcrypt.storage import keys as keyops
from medcrypt.storage import migrate
from medcrypt.storage.audit import AuditLog, from_us
from medcrypt.storage.db import make_engine

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DB = FIXTURES / "db_06f4938.sqlite"
META = json.loads((FIXTURES / "db_06f4938.json").read_text())


def _dump(db: Path) -> dict[str, tuple[list[str], list[tuple[object, ...]]]]:
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        out = {}
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            out[table] = ([d[0] for d in cursor.description], cursor.fetchall())
    return out


#: Values a migration rewrites in place, old -> new, per (table, column): exact, so a
#: rewrite nobody documented here fails the test like a lost row.
REWRITES: dict[tuple[str, str], dict[object, object]] = {
    # 0009: the one job reference the bot stored, moved to the medcrypt namespace
    ("scheduler_jobs", "func_ref"): {
        "bot.jobs.scheduler:scheduled": "medcrypt.bot.scheduler.runner:scheduled"},
}


def _project(columns: list[str], rows: list[tuple[object, ...]], keep: list[str],
             table: str = "") -> Counter[tuple[object, ...]]:
    at = [columns.index(c) for c in keep]
    maps = [REWRITES.get((table, c), {}) for c in keep]
    return Counter(tuple(m.get(row[i], row[i]) for i, m in zip(at, maps, strict=True))
                   for row in rows)


def _inbound_keys_as_documented(columns: list[str], rows: list[tuple[object, ...]],
                                new_columns: list[str], new_rows: list[tuple[object, ...]]
                                ) -> None:
    """Migration 0013 (ADR 0010): a Twilio MessageSid becomes its SHA-256, in place; a
    Telegram key was an HMAC of values the row does not hold, so it is dropped - the one
    deletion on the upgrade path, and only of replay keys for updates long confirmed."""
    platform, sid = columns.index("platform"), columns.index("platform_message_id")
    assert {r[platform] for r in rows} == {"telegram", "whatsapp"}  # the fixture has both
    want = Counter(("whatsapp", hashlib.sha256(str(r[sid]).encode()).digest())
                   for r in rows if r[platform] == "whatsapp")
    at = [new_columns.index("platform"), new_columns.index("key_sha256")]
    assert Counter(tuple(r[i] for i in at) for r in new_rows) == want


def test_the_fixture_is_what_its_script_recorded() -> None:
    before = _dump(DB)
    assert {t: len(rows) for t, (_c, rows) in before.items()} == META["row_counts"]
    assert META["row_counts"]["pairings"] > 0 and META["row_counts"]["audit_entries"] > 0


def test_a_06f4938_database_migrates_to_head_with_nothing_lost(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(DB, db)
    before = _dump(db)
    url = f"sqlite:///{db}"
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head() != META["schema_revision"]
    after = _dump(db)

    for table, (columns, rows) in before.items():
        if table == "alembic_version":
            continue
        if table == "inbound_keys":
            _inbound_keys_as_documented(columns, rows, *after[table])
            continue
        if table not in after:  # 0014 folds shred_confirmations into confirmations
            assert not rows, f"migrations dropped {table} and its {len(rows)} rows"
            continue
        new_columns, new_rows = after[table]
        kept = [c for c in columns if c in new_columns]
        assert _project(columns, rows, kept, table) == _project(new_columns, new_rows,
                                                                kept), table

    engine = make_engine(url)
    try:
        keys = parse_server_keys(META["server_keys"])
        old = dict(keys)
        ring = Keyring({**old, max(old) + 1: bytes(32 * [7])})
        sealed = sum(u.rows for u in keyops.key_status(sessionmaker(engine)())
                     if u.version == max(old))
        assert sealed > 0
        # rewrap opens every value sealed under the old version: one that does not open fails
        assert keyops.rewrap(sessionmaker(engine), ring) > 0

        signer = CheckpointSigner(base64.b64decode(META["audit_signing_key"]))
        with sqlite3.connect(db) as conn:
            last_us = conn.execute("SELECT max(ts_us) FROM audit_entries").fetchone()[0]
        log = AuditLog(engine, ring, clock=FixedClock(from_us(last_us)),
                       checkpoint_every=10**9, checkpoint_interval=timedelta(days=3650))
        report = log.verify({signer.key_id: signer.public_key}, jobs=1)
        assert report.entries == META["row_counts"]["audit_entries"]
        assert report.checkpoints > 0
    finally:
        engine.dispose()
