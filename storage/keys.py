"""Key-version bookkeeping for encrypted columns: status, coverage check, rewrap.

Every sealed value and blind index starts with its key version (u16), so counting rows
per version is one ``GROUP BY substr(column, 1, 2)`` per column - no decryption, no key
needed. That makes three operations cheap and safe:

* :func:`key_status` - rows per (table, column, version), for ``keys status``;
* :func:`verify_keyring` - refuse to run when rows use a version the keyring lacks,
  with an error naming table, column, version and count (never a silent failure);
* :func:`rewrap` - re-seal stale values under the current version in committed
  batches. Each batch selects only rows still on an old version, so an interrupted run
  simply resumes, and a finished one is a no-op.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import LargeBinary, func, literal, or_, select, type_coerce
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker, undefer

from medcrypt.crypto.errors import KeyVersionMissing, StorageError
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks
from medcrypt.storage.encrypted import REGISTRY, EncryptedField
from medcrypt.storage.models import load_all

_log = structlog.get_logger(__name__)

#: Callback ``(table, column, done, total)`` for progress reporting.
Progress = Callable[[str, str, int, int], None]


@dataclass(frozen=True, slots=True)
class KeyUsage:
    table: str
    column: str
    version: int
    rows: int


def _columns() -> Iterator[tuple[type[Any], EncryptedField, str]]:
    """(model, field, column name) for every sealed column and blind-index column."""
    load_all()
    for (_table, _column), (model, field) in sorted(REGISTRY.items()):
        yield model, field, field.column
        if field.blind_index:
            yield model, field, field.blind_index


def _prefix(model: type[Any], column: str) -> Any:
    attr: InstrumentedAttribute[Any] = getattr(model, column)
    return type_coerce(func.substr(type_coerce(attr, LargeBinary), 1, 2), LargeBinary)


_TREE_PREFIX = b"\x00\x00"


def key_status(session: Session) -> list[KeyUsage]:
    """Rows per keyring version for every encrypted and blind-index column.

    Values sealed under the key tree (prefix ``00 00``) use no keyring version: they are
    counted by their DEKs (``storage.deks.counts``), not here.
    """
    usage: list[KeyUsage] = []
    for model, field, column in _columns():
        prefix = _prefix(model, column)
        stmt = (
            select(prefix, func.count())
            .where(getattr(model, column).is_not(None))
            .group_by(prefix)
        )
        if field.tree_purpose is not None:  # tree values and epoch-keyed indexes
            stmt = stmt.where(prefix != literal(_TREE_PREFIX, LargeBinary))
        for raw, count in session.execute(stmt):
            version = struct.unpack(">H", bytes(raw).rjust(2, b"\0")[:2])[0]
            usage.append(KeyUsage(field.table, column, version, int(count)))
    return sorted(usage, key=lambda u: (u.table, u.column, -u.version))


def verify_keyring(session: Session, keyring: Keyring) -> list[KeyUsage]:
    """Raise :class:`KeyVersionMissing` if any row uses a version the keyring lacks."""
    usage = key_status(session)
    missing = [u for u in usage if u.version not in keyring.versions]
    keks = deks.stale_keks(session, keyring)
    if missing or keks:
        detail = "; ".join(
            [f"{u.table}.{u.column}: {u.rows} row(s) on key version {u.version}"
             for u in missing]
            + [f"keks: {n} KEK(s) on root version {v}" for v, n in keks]
        )
        raise KeyVersionMissing(
            f"server key version(s) still in use are missing from the keyring: {detail}. "
            "Add the old key back and run `medcrypt-bot keys rewrap` before removing it."
        )
    return usage


def _stale_filter(model: type[Any], field: EncryptedField, keyring: Keyring) -> Any:
    current = literal(struct.pack(">H", keyring.current_version), LargeBinary)
    # A tree field is stale while it still holds a v1 keyring value (any version): the
    # rewrap converts it to its DEK. Tree-sealed values move only by DEK rotation.
    target = literal(_TREE_PREFIX, LargeBinary) if field.tree_purpose is not None else current
    conditions = [
        getattr(model, field.column).is_not(None) & (_prefix(model, field.column) != target)
    ]
    if field.blind_index:
        # A tree field's index is stale while it is a keyring index: it moves to the
        # shred epoch's index DEK (one under an older epoch's is the close's to redo).
        conditions.append(
            getattr(model, field.blind_index).is_not(None)
            & (_prefix(model, field.blind_index) != target)
        )
    return or_(*conditions)


def count_stale(session: Session, keyring: Keyring) -> dict[tuple[str, str], int]:
    """Rows per (table, column) not yet on the current key version."""
    load_all()
    counts: dict[tuple[str, str], int] = {}
    for (table, column), (model, field) in sorted(REGISTRY.items()):
        stmt = select(func.count()).select_from(model).where(_stale_filter(model, field, keyring))
        counts[(table, column)] = int(session.scalar(stmt) or 0)
    return counts


def rewrap(
    sessions: sessionmaker[Session],
    keyring: Keyring,
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> int:
    """Re-seal every stale value under the current version; returns rows rewritten.

    Fails before changing anything when a version in use is not configured.
    """
    if batch_size < 1:
        raise StorageError("rewrap batch size must be at least 1")
    with sessions() as session:
        verify_keyring(session, keyring)
        totals = count_stale(session, keyring)
    rewritten = 0
    load_all()
    # KEKs first (per KEK, never per DEK): the key tree's values then open under the
    # current root version alone.
    tree = deks.tree_of(keyring)
    with sessions.begin() as session:
        keks = deks.rewrap_keks(session, tree, skip_version=(
            keyring.current_version if tree.provider_name == "env" else None))
    if keks:
        _log.info("keys.rewrap.keks", keks=keks)
    for (table, column), (model, field) in sorted(REGISTRY.items()):
        total = totals.get((table, column), 0)
        done = 0
        if progress:
            progress(table, column, done, total)
        while True:
            with sessions.begin() as session:
                pk = getattr(model, field.id_attr)
                stmt = (
                    select(model)
                    .where(_stale_filter(model, field, keyring))
                    .order_by(pk)
                    .limit(batch_size)
                )
                if field.tree_purpose is not None:
                    # The DEK reference is deferred on the models (older schema
                    # revisions); loading it per row would cost a SELECT each.
                    stmt = stmt.options(undefer(model.dek_id), undefer(model.dek_version))
                if session.get_bind().dialect.name == "postgresql":
                    stmt = stmt.with_for_update(skip_locked=True)
                rows = list(session.scalars(stmt))
                changed = sum(1 for row in rows if field.rewrap(row, keyring))
            if not rows:
                break
            done += changed
            rewritten += changed
            _log.info("keys.rewrap.batch", table=table, column=column, rows=changed,
                      version=keyring.current_version)
            if progress:
                progress(table, column, min(done, max(total, done)), max(total, done))
            if changed == 0:  # pragma: no cover - filter and rewrap disagree: stop, don't spin
                raise StorageError(f"rewrap of {table}.{column} made no progress")
    return rewritten
