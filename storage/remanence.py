"""After a shred: make the deleted bytes leave the database files, as far as the engine allows.

SQLite: ``secure_delete=ON`` (checked on every connection by :mod:`storage.db`) zeroes
freed cells and pages, but the pre-delete page images still sit in the ``-wal`` file
until a checkpoint copies the new pages home; a PASSIVE checkpoint leaves the frames in
place, so we run ``wal_checkpoint(TRUNCATE)``, which also cuts the WAL to zero bytes. A
reader holding an old snapshot makes the checkpoint report "busy"; we retry briefly and
then fail loudly rather than claim bytes are gone.

PostgreSQL: DELETE only marks tuples dead. Plain VACUUM makes their space reusable (it
is overwritten later, not now); VACUUM FULL rewrites the tables into new files and
releases the old ones to the filesystem. Neither touches WAL segments already written,
base backups, replicas' own files or disk snapshots - docs/OPERATIONS.md says so.

The shred job and the erasure call :func:`scrub` after their deletions have committed.
"""

from __future__ import annotations

import time
from typing import Literal

from sqlalchemy import Engine

from medcrypt.crypto.errors import StorageError
from medcrypt.storage.db import is_sqlite, sqlite_checkpoint_truncate

#: Tables that hold epoch-scoped ciphertext and are vacuumed after a shred.
SHREDDED_TABLES = (
    "stored_tokens", "escrow_deposits", "media_blobs", "pending_parts", "outbox", "epochs",
)

VacuumMode = Literal["none", "vacuum", "vacuum_full"]


def scrub(
    engine: Engine, postgres_vacuum: VacuumMode, *, attempts: int = 2, pause: float = 0.5
) -> str:
    """Run the post-shred scrub for this backend; returns what was done (for job_runs).

    Each SQLite attempt already waits up to the connection's busy timeout (5 s) for
    readers to move off old frames, so two attempts are patient enough; the hourly
    sweep tries again anyway.
    """
    if is_sqlite(engine):
        for attempt in range(max(attempts, 1)):
            try:
                sqlite_checkpoint_truncate(engine)
                return "sqlite_wal_checkpoint_truncate"
            except StorageError:
                if attempt >= attempts - 1:
                    raise
                time.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover
    if postgres_vacuum == "none":
        return "none"
    verb = "VACUUM FULL" if postgres_vacuum == "vacuum_full" else "VACUUM"
    # VACUUM cannot run inside a transaction block: use an autocommit connection.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in SHREDDED_TABLES:
            conn.exec_driver_sql(f"{verb} {table}")
    return "postgres_" + postgres_vacuum
