"""Reading the audit log out for people: decrypted export and crypto-shredding.

``export`` is the HIPAA accounting of disclosures: entries decrypted for an admin, with
erased subjects shown as ``erased`` rather than skipped, so the record stays complete.
``erase_subject`` deletes a subject's key (every detail written about them becomes
unreadable) while the hash chain, which covers the ciphertext, still verifies; then it
purges the deleted key bytes from SQLite's WAL or PostgreSQL's dead tuples.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, delete, select

from medcrypt.crypto.errors import DecryptionFailed, StorageError
from medcrypt.crypto.server.audit import Action, check_ref, open_details
from medcrypt.storage.audit_append import AppendMixin
from medcrypt.storage.audit_core import (
    ENTRIES,
    SUBJECT_KEYS,
    WRITE_ATTEMPTS,
    Appended,
    AuditEvent,
    ExportedEntry,
    from_us,
    prepare,
)
from medcrypt.storage.db import is_sqlite, sqlite_checkpoint_truncate


class ExportMixin(AppendMixin):
    """``export`` and ``erase_subject`` (the erasure is itself an appended entry)."""

    def export(
        self, *, from_seq: int = 1, to_seq: int | None = None, subject: str | None = None,
        batch_size: int = 2000,
    ) -> Iterator[ExportedEntry]:
        """Decrypt entries for an admin; erased subjects come back as ``state="erased"``."""
        stmt = select(ENTRIES.c.seq, ENTRIES.c.ts_us, ENTRIES.c.actor_ref,
                      ENTRIES.c.subject_ref, ENTRIES.c.action, ENTRIES.c.details,
                      ).where(ENTRIES.c.seq >= from_seq).order_by(ENTRIES.c.seq)
        if to_seq is not None:
            stmt = stmt.where(ENTRIES.c.seq <= to_seq)
        if subject is not None:
            stmt = stmt.where(ENTRIES.c.subject_ref == check_ref(subject))
        keys: dict[str, bytes | None] = {}
        with self._connect() as conn:
            result = conn.execution_options(yield_per=batch_size).execute(stmt)
            for part in result.partitions():
                missing = {row[3] for row in part} - keys.keys()
                if missing:
                    found = self._load_subject_keys(conn, missing)
                    keys.update({ref: found.get(ref) for ref in missing})
                for row in part:
                    yield _decrypt(keys[row[3]], row)

    def erase_subject(self, subject_ref: str, *, actor: str, purge: bool = True) -> None:
        """Crypto-shred everything written about ``subject_ref``; the chain still verifies.

        The erasure itself is logged first (its details go with the key), then the key
        row is deleted in the same transaction, then the deleted bytes are purged from
        SQLite's WAL or PostgreSQL's dead tuples. ``purge=False`` is for a caller that
        erases many subjects and scrubs the database once at the end.
        """
        check_ref(subject_ref)
        if subject_ref.startswith("system:"):
            raise ValueError("system refs cannot be erased")
        prepared = [prepare(AuditEvent(actor, Action.SUBJECT_ERASED, subject_ref, {}))]

        def work(conn: Connection) -> Appended:
            result = self._write(conn, prepared, auto_checkpoint=True)
            conn.execute(delete(SUBJECT_KEYS).where(SUBJECT_KEYS.c.subject_ref == subject_ref))
            return result

        result = self._transaction(work)
        for cached in [k for k in list(self._key_cache) if k[0] == subject_ref]:
            self._key_cache.pop(cached, None)  # list(): other threads may be inserting
        self._announce(result.checkpoint)
        if purge:
            self._purge_deleted()

    def _purge_deleted(self) -> None:
        """Make deleted key bytes unrecoverable from the WAL / dead tuples.

        A concurrent reader (a running verify) can pin WAL frames for a moment, so the
        SQLite checkpoint is retried briefly before the error reaches the caller - whose
        erasure is committed either way; only the purge of the WAL copy is pending.
        """
        if is_sqlite(self._engine):
            for attempt in range(WRITE_ATTEMPTS):
                try:
                    sqlite_checkpoint_truncate(self._engine)
                    return
                except StorageError:
                    if attempt == WRITE_ATTEMPTS - 1:
                        raise StorageError(
                            "subject erased, but a reader kept SQLite from truncating its WAL: "
                            "run the erase again (or the shred job) to purge the WAL copy"
                        ) from None
                    time.sleep(0.1 * 2**attempt)
        elif self._vacuum != "none":
            sql = "VACUUM FULL audit_subject_keys" if self._vacuum == "vacuum_full" else (
                "VACUUM audit_subject_keys")
            with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql(sql)


def _decrypt(key: bytes | None, row: Any) -> ExportedEntry:
    seq, ts_us, actor, subject, action, sealed = row
    when = from_us(ts_us)
    if key is None:
        return ExportedEntry(seq, when, actor, subject, action, None, "erased")
    try:
        details = open_details(key, seq, subject, action, bytes(sealed))
    except DecryptionFailed:
        return ExportedEntry(seq, when, actor, subject, action, None, "undecryptable")
    return ExportedEntry(seq, when, actor, subject, action, details, "ok")
