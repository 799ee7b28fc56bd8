"""The audit log's tables, value types, time conversion and error mapping.

Plain module-level values and functions shared by :class:`~.log.AuditLog`, the SQL
helpers in :mod:`.queries` and the parallel verifier; nothing here holds state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from medcrypt.crypto.clock import ensure_utc
from medcrypt.crypto.errors import StorageError
from medcrypt.crypto.server.audit import (
    GENESIS_HASH,
    Action,
    Checkpoint,
    Details,
    DetailValue,
    check_ref,
    encode_details,
)
from medcrypt.storage.models.audit import (
    AuditCheckpoint,
    AuditEntry,
    AuditHead,
    AuditSecret,
    AuditSubjectKey,
)

ENTRIES: Table = AuditEntry.__table__  # type: ignore[assignment]
CHECKPOINTS: Table = AuditCheckpoint.__table__  # type: ignore[assignment]
SUBJECT_KEYS: Table = AuditSubjectKey.__table__  # type: ignore[assignment]
SECRETS: Table = AuditSecret.__table__  # type: ignore[assignment]
HEAD: Table = AuditHead.__table__  # type: ignore[assignment]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AuditEvent(NamedTuple):
    """One event for :meth:`AuditLog.append_many`."""

    actor: str
    action: Action
    subject: str
    details: Details | None = None


@dataclass(frozen=True)
class Appended:
    """Where the caller's entries landed (and, from ``append_signed`` only, its checkpoint)."""

    first_seq: int
    last_seq: int
    entry_hash: bytes
    checkpoints: tuple[Checkpoint, ...] = ()

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The last checkpoint taken with these entries, if any."""
        return self.checkpoints[-1] if self.checkpoints else None


@dataclass(frozen=True)
class Head:
    seq: int
    entry_hash: bytes
    last_checkpoint: Checkpoint | None


@dataclass(frozen=True)
class ExportedEntry:
    """One decrypted entry for an admin; ``state`` says why ``details`` may be missing."""

    seq: int
    time: datetime
    actor_ref: str
    subject_ref: str
    action: str
    details: dict[str, DetailValue] | None
    state: Literal["ok", "erased", "undecryptable"]


class HeadRow(NamedTuple):
    seq: int
    entry_hash: bytes
    cp_seq: int
    cp_ts_us: int
    cp_sig: bytes
    erasures: int = 0


Prepared = tuple[str, str, str, bytes]  # actor, action, subject, details plaintext
CP_COLUMNS = (CHECKPOINTS.c.seq, CHECKPOINTS.c.ts_us, CHECKPOINTS.c.head_hash,
              CHECKPOINTS.c.key_id, CHECKPOINTS.c.prev_sig, CHECKPOINTS.c.sig)


def to_us(at: datetime) -> int:
    """Microseconds since the Unix epoch, exact (no float rounding)."""
    return (ensure_utc(at) - _EPOCH) // timedelta(microseconds=1)


def from_us(ts_us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ts_us)


def prepare(event: AuditEvent) -> Prepared:
    """Validate and encode outside the lock; refs must be pseudonyms or system refs."""
    actor, action, subject, details = event
    if not isinstance(action, Action):
        raise TypeError("action must be a crypto.audit.Action")
    return check_ref(actor), action.value, check_ref(subject), encode_details(details)


def transient(exc: DBAPIError) -> bool:
    """Lock waits that ran out (SQLite busy/locked, PostgreSQL deadlock or lock timeout)."""
    if getattr(exc.orig, "sqlstate", None) in ("40001", "40P01", "55P03"):
        return True
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text


def storage_error(exc: DBAPIError) -> StorageError:
    """Name the problem without quoting the driver's message (it may carry values)."""
    text = str(exc.orig).lower()
    if "no such table" in text or getattr(exc.orig, "sqlstate", None) == "42P01":
        return StorageError("the audit tables are missing: run `medcrypt-bot migrate`")
    return StorageError(f"audit log database error ({type(exc.orig).__name__})")


def genesis_head() -> dict[str, Any]:
    return {"id": 1, "seq": 0, "entry_hash": GENESIS_HASH, "checkpoint_seq": 0,
            "checkpoint_ts_us": 0, "checkpoint_sig": b"", "erasures": 0}


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).values(**values).on_conflict_do_nothing()
    return sqlite.insert(table).values(**values).on_conflict_do_nothing()
