"""The audit log's shared ground: tables, value types, time conversion, and the base
class holding connections, the head row, transactions and subject-key unwrapping.

:class:`storage.audit.AuditLog` is assembled from mixins that each do one job
(appending, reading and verifying, exporting and erasing); they all stand on
:class:`AuditBase`, so the connection and error-handling rules live in one place.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple, TypeVar

from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError

from medcrypt.crypto.clock import Clock, ensure_utc
from medcrypt.crypto.errors import ConfigError, StorageError
from medcrypt.crypto.server.audit import (
    GENESIS_HASH,
    Action,
    Checkpoint,
    CheckpointSigner,
    Details,
    DetailValue,
    check_ref,
    encode_details,
)
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.encrypted import Sealed
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
WRITE_ATTEMPTS = 5
_KEY_CACHE_MAX = 4096
_T = TypeVar("_T")


class AuditEvent(NamedTuple):
    """One event for :meth:`AuditLog.append_many`."""

    actor: str
    action: Action
    subject: str
    details: Details | None = None


@dataclass(frozen=True)
class Appended:
    """Where the caller's entries landed, and the checkpoint taken with them, if any."""

    first_seq: int
    last_seq: int
    entry_hash: bytes
    checkpoint: Checkpoint | None


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


Prepared = tuple[str, str, str, bytes]  # actor, action, subject, details plaintext
CP_COLUMNS = (CHECKPOINTS.c.seq, CHECKPOINTS.c.ts_us, CHECKPOINTS.c.head_hash,
              CHECKPOINTS.c.key_id, CHECKPOINTS.c.prev_sig, CHECKPOINTS.c.sig)


def to_us(at: datetime) -> int:
    """Microseconds since the Unix epoch, exact (no float rounding)."""
    return (ensure_utc(at) - _EPOCH) // timedelta(microseconds=1)


def from_us(ts_us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ts_us)


class AuditBase:
    """State and plumbing shared by the audit-log mixins. Thread-safe: state is in the
    database, and the only in-memory state is caches of values read from it."""

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring | None,
        *,
        clock: Clock,
        signer: CheckpointSigner | None = None,
        checkpoint_every: int = 1000,
        checkpoint_interval: timedelta = timedelta(hours=1),
        on_checkpoint: Callable[[Checkpoint], None] | None = None,
        postgres_vacuum: Literal["none", "vacuum", "vacuum_full"] = "vacuum",
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if checkpoint_every < 1:
            raise ConfigError("audit.checkpoint_every_entries", "must be at least 1")
        if checkpoint_interval <= timedelta(0):
            raise ConfigError("audit.checkpoint_interval_minutes", "must be at least 1")
        self._engine = engine
        self._keyring = keyring
        self._clock = clock
        self._signer = signer
        self._every = checkpoint_every
        self._interval_us = checkpoint_interval // timedelta(microseconds=1)
        self._on_checkpoint = on_checkpoint
        self._vacuum = postgres_vacuum
        self._rng = rng
        self._key_cache: dict[tuple[str, bytes], bytes] = {}
        self._pseudonym_key: bytes | None = None

    def _transaction(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` in its own transaction, retrying while the database stays busy."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self._engine.connect() as conn:
                    result = work(conn)
                    conn.commit()
                    return result
            except IntegrityError:
                raise StorageError("audit append refused by the unique seq constraint: "
                                   "another writer bypassed the head lock") from None
            except DBAPIError as exc:
                if not transient(exc):
                    raise storage_error(exc) from None
                if attempt == WRITE_ATTEMPTS - 1:
                    raise StorageError("audit log write failed: the database stayed busy "
                                       f"through {WRITE_ATTEMPTS} attempts") from None
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A read connection whose driver errors become one clear StorageError."""
        try:
            with self._engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise storage_error(exc) from None

    def _lock_head(self, conn: Connection) -> HeadRow:
        """Write the head row first: the lock that serialises the chain (storage.audit_append)."""
        lock = update(HEAD).where(HEAD.c.id == 1).values(seq=HEAD.c.seq)
        if conn.execute(lock).rowcount == 0:
            conn.execute(insert_ignore(conn, HEAD, _genesis_head()))
            conn.execute(lock)
        return self._read_head(conn)

    def _read_head(self, conn: Connection) -> HeadRow:
        row = conn.execute(select(HEAD.c.seq, HEAD.c.entry_hash, HEAD.c.checkpoint_seq,
                                  HEAD.c.checkpoint_ts_us, HEAD.c.checkpoint_sig)
                           .where(HEAD.c.id == 1)).first()
        if row is None:
            return HeadRow(0, GENESIS_HASH, 0, 0, b"")
        return HeadRow(int(row[0]), bytes(row[1]), int(row[2]), int(row[3]), bytes(row[4]))

    def _due(self, head: HeadRow, now_us: int) -> bool:
        return (head.seq - head.cp_seq >= self._every
                or now_us - head.cp_ts_us >= self._interval_us)

    @property
    def _keys(self) -> Keyring:
        if self._keyring is None:
            raise ConfigError("keyring.server_keys_env", "the audit log needs the server "
                                                         "keyring to write or decrypt")
        return self._keyring

    def _load_subject_keys(self, conn: Connection, refs: set[str]) -> dict[str, bytes]:
        stmt = select(SUBJECT_KEYS.c.subject_ref, SUBJECT_KEYS.c.wrapped).where(
            SUBJECT_KEYS.c.subject_ref.in_(sorted(refs)))
        return {ref: self._unwrap(ref, sealed) for ref, sealed in conn.execute(stmt)}

    def _unwrap(self, ref: str, sealed: Sealed) -> bytes:
        cache_key = (ref, sealed.data)
        key = self._key_cache.get(cache_key)
        if key is None:
            key = base64.b64decode(self._keys.open(sealed.data, AuditSubjectKey.KEY.aad(ref)))
            if len(self._key_cache) >= _KEY_CACHE_MAX:
                self._key_cache.clear()
            self._key_cache[cache_key] = key
        return key

    def _checkpoints(self, conn: Connection, first: int, last: int | None) -> list[Checkpoint]:
        stmt = select(*CP_COLUMNS).where(CHECKPOINTS.c.seq >= first).order_by(
            CHECKPOINTS.c.seq)
        if last is not None:
            stmt = stmt.where(CHECKPOINTS.c.seq <= last)
        return [Checkpoint(int(r[0]), int(r[1]), *(bytes(v) for v in r[2:]))
                for r in conn.execute(stmt)]

    def _announce(self, checkpoint: Checkpoint | None) -> None:
        if checkpoint is not None and self._on_checkpoint is not None:
            self._on_checkpoint(checkpoint)


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


def _genesis_head() -> dict[str, Any]:
    return {"id": 1, "seq": 0, "entry_hash": GENESIS_HASH, "checkpoint_seq": 0,
            "checkpoint_ts_us": 0, "checkpoint_sig": b""}


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).values(**values).on_conflict_do_nothing()
    return sqlite.insert(table).values(**values).on_conflict_do_nothing()
