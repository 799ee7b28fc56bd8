"""After a shred, no deleted token bytes remain in the SQLite file or its WAL.

The shred is the one the product runs: the hourly sweep (``bot.domain.lifecycle.shred``)
claims the epoch past its grace end, deletes its rows (``bot.domain.lifecycle.purge``)
and scrubs the database files. The rows are written by the repository functions the
relay and the outbox call. The control case proves the scan can fail: the same
deletion on a connection with ``secure_delete`` off leaves the bytes on disk.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from medcrypt.bot.app.wiring import build_services
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.lifecycle.shred import sweep
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.tags import tag_of_hex
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine, sqlite_checkpoint_truncate
from medcrypt.storage.repos import epochs, outbox
from medcrypt.storage.repos.escrow import store_deposit
from medcrypt.storage.repos.identities import get_or_create_identity
from medcrypt.storage.repos.pairings import accept_pairing, register_pairing
from medcrypt.storage.repos.tokens import store_relayed
from medcrypt.storage.smoke import raw_database_bytes
from tests.support.storage import NOW

PID = "cd" * 16
TAG = tag_of_hex(PID)
NOV = epoch_of(NOW)
#: After November's grace window (7 days into December), inside December.
SWEEP_AT = datetime(2026, 12, 15, tzinfo=UTC)


def _marker(tag: bytes) -> bytes:
    return b"SHRED-MARKER-" + tag + b"-" + os.urandom(8).hex().encode()


def test_shred_leaves_no_token_bytes_on_disk(sqlite_url: str, keyring: Keyring) -> None:
    migrate.upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    clock = FixedClock(NOW)
    ctx = build_services(parse_settings({}), clock, engine=engine, keyring=keyring, environ={})
    db = Path(sqlite_url.removeprefix("sqlite:///"))
    token_markers = [_marker(b"tok%d" % i) for i in range(20)]
    media_marker = _marker(b"media")
    deposit_marker = _marker(b"deposit")
    keep_marker = _marker(b"keep")
    try:
        with ctx.sessions.begin() as s:
            doc, _ = get_or_create_identity(s, keyring, "telegram", "12121212", now=NOW)
            pat, _ = get_or_create_identity(s, keyring, "telegram", "34343434", now=NOW)
            assert register_pairing(s, pairing_id=PID, physician_id=doc.id, start_epoch=NOV,
                                    grace_days=7, offer_expires_at=NOW + timedelta(hours=1),
                                    now=NOW, tag=TAG)
            accept_pairing(s, PID, patient_id=pat.id, now=NOW, consent_channel="telegram",
                           consent_notice_version="1")
            for i, m in enumerate(token_markers):
                store_relayed(s, pairing_id=PID, epoch=NOV, direction=i % 2, msg_index=i,
                              kind=1, raw=m * 20, now=NOW)
            outbox.enqueue(s, recipient_id=pat.id, origin_id=doc.id, pairing_id=PID,
                           payload_kind="document", payloads=[b"header"], now=NOW,
                           file=outbox.NewFile(media_marker * 100, PID, NOV))
            assert store_deposit(s, pairing_id=PID, epoch=NOV, direction=0,
                                 raw=deposit_marker * 10, now=NOW)
            epochs.ensure_epoch(s, PID, NOV + 1, now=NOW)
            store_relayed(s, pairing_id=PID, epoch=NOV + 1, direction=0, msg_index=0, kind=1,
                          raw=keep_marker, now=NOW)
        sqlite_checkpoint_truncate(engine)
        before = raw_database_bytes(db)
        assert all(m in before for m in [*token_markers, media_marker, deposit_marker])
        clock.set(SWEEP_AT)
        result = sweep(ctx, SWEEP_AT)
        assert result.epochs_shredded == 1
        assert (result.counts["tokens"], result.counts["media"], result.counts["escrow"]) == (
            20, 1, 1)
        assert result.scrub == "sqlite_wal_checkpoint_truncate"
        after = raw_database_bytes(db)
        assert Path(f"{db}-wal").stat().st_size == 0
        for m in [*token_markers, media_marker, deposit_marker]:
            assert m not in after
        assert keep_marker in after  # the scan does see live data
    finally:
        engine.dispose()


def test_control_without_secure_delete_bytes_survive(tmp_path: Path) -> None:
    path = tmp_path / "control.db"
    marker = _marker(b"control")
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA secure_delete = OFF")
        conn.execute("CREATE TABLE t (v BLOB)")
        conn.executemany("INSERT INTO t VALUES (?)", [(marker * 20,) for _ in range(20)])
        conn.commit()
        conn.execute("DELETE FROM t")
        conn.commit()
    finally:
        conn.close()
    assert marker in path.read_bytes()
