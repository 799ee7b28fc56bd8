"""After a shred, no deleted token bytes remain in the SQLite file or its WAL.

The control case proves the scan can fail: the same deletion on a connection with
``secure_delete`` off leaves the bytes on disk.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import timedelta
from pathlib import Path

from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine, session_factory, sqlite_checkpoint_truncate
from medcrypt.storage.repos.identities import get_or_create_identity
from medcrypt.storage.repos.media import store_media
from medcrypt.storage.repos.pairings import accept_pairing, create_pairing, shred_epoch
from medcrypt.storage.repos.tokens import store_token
from medcrypt.storage.smoke import raw_database_bytes
from tests.support.storage import NOW

PID = "cd" * 16


def _marker(tag: bytes) -> bytes:
    return b"SHRED-MARKER-" + tag + b"-" + os.urandom(8).hex().encode()


def test_shred_leaves_no_token_bytes_on_disk(sqlite_url: str, keyring: Keyring) -> None:
    migrate.upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    db = Path(sqlite_url.removeprefix("sqlite:///"))
    token_markers = [_marker(b"tok%d" % i) for i in range(20)]
    media_marker = _marker(b"media")
    keep_marker = _marker(b"keep")
    try:
        sessions = session_factory(engine)
        with sessions.begin() as s:
            doc, _ = get_or_create_identity(s, keyring, "telegram", "12121212", now=NOW)
            pat, _ = get_or_create_identity(s, keyring, "telegram", "34343434", now=NOW)
            create_pairing(s, pairing_id=PID, physician_id=doc.id, start_epoch=682,
                           grace_days=7, offer_expires_at=NOW + timedelta(hours=1), now=NOW)
            accept_pairing(s, PID, patient_id=pat.id, now=NOW, consent_channel="telegram",
                           consent_notice_version="1")
            for i, m in enumerate(token_markers):
                store_token(s, pairing_id=PID, epoch=682, direction=i % 2, msg_index=i,
                            kind=1, raw=m * 20, now=NOW)
            store_media(s, pairing_id=PID, epoch=682, data=media_marker * 100,
                        content_type="application/octet-stream",
                        expires_at=NOW + timedelta(hours=1), now=NOW)
            store_token(s, pairing_id=PID, epoch=683, direction=0, msg_index=0, kind=1,
                        raw=keep_marker, now=NOW)
        sqlite_checkpoint_truncate(engine)
        before = raw_database_bytes(db)
        assert all(m in before for m in token_markers) and media_marker in before
        with sessions.begin() as s:
            assert shred_epoch(s, PID, 682, now=NOW) == 21
        sqlite_checkpoint_truncate(engine)
        after = raw_database_bytes(db)
        assert Path(f"{db}-wal").stat().st_size == 0
        for m in [*token_markers, media_marker]:
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
