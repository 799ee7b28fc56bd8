"""WAL checkpoints off the request path: the bot's connections never checkpoint inside a
commit, and the checkpointer thread folds the WAL into the database file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from medcrypt.storage.checkpointer import WalCheckpointer
from medcrypt.storage.db import make_engine


def _pages(path: Path) -> int:
    """Size of a file in database pages (4096 bytes, SQLite's default here)."""
    return path.stat().st_size // 4096 if path.exists() else 0


def test_bot_connections_leave_checkpoints_to_the_thread(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    engine = make_engine(f"sqlite:///{db}", wal_autocheckpoint=False)
    with engine.begin() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0
        conn.execute(text("CREATE TABLE t (x BLOB)"))
    for _ in range(60):  # far past SQLite's automatic threshold of 1,000 pages
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (randomblob(100000))"))
    wal = db.with_name(db.name + "-wal")
    assert _pages(wal) > 1000  # no commit checkpointed on its way out
    assert _pages(db) < 100  # the rows are still only in the WAL
    checkpointer = WalCheckpointer(str(db), every_seconds=0.05)
    checkpointer.start()
    checkpointer.stop()
    assert checkpointer.runs >= 1
    assert _pages(db) > 1400  # 60 x 100 KB now live in the database file itself
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 60
    engine.dispose()


def test_other_processes_keep_automatic_checkpoints(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 1000
    engine.dispose()


def test_a_failing_checkpoint_is_logged_not_raised(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db")
    conn.close()
    WalCheckpointer(str(tmp_path / "x.db")).checkpoint(conn)  # closed: sqlite3 error
