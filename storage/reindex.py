"""Closing a shred epoch, blind-index part: recompute every live row's index under the
new epoch's index DEK, then destroy the older index DEKs (docs/adr/0039-shred-epochs.md,
Amendment 1).

Why before the old KEK and root go: an index made under the old epoch's key can be
recomputed - and so matched against a guessed phone number - only while that key
opens. Once every live row is moved and the old index DEK row is blanked, the only copy
left is the one in old backups, wrapped under a KEK whose root version the close then
destroys.

How, without losing anyone during the close:

* The close opens the new epoch's index DEK with its KEK (``kek_epochs.open_next``); from
  that commit new rows are indexed under it, and lookups try every live index DEK - the
  old and the new - so a person is found whichever their row holds.
* Rows are read in batches by primary key (keyset: a resumed run skips what moved), the
  sealed value opened under the row's own DEK (the bot may), the index recomputed and
  written by compare-and-set on the old index bytes: a row erased or rewritten meanwhile
  is left as it is now. One transaction per batch: a run killed with SIGKILL loses at
  most one uncommitted batch and the next run finishes.
* An older index DEK is destroyed in a transaction that first blanks its row (on
  PostgreSQL that waits for any insert that share-locked it as the current key) and then
  counts the rows still under it; any left (a first contact that raced the pass) and the
  transaction rolls back, so the key lives and the close reports them as pending.
* Shared rate-limit rows (PostgreSQL) keyed under an older index DEK are deleted: they
  are a politeness limit that may reset, not data.

Rows whose value is still a v1 keyring value keep their keyring index: ``keys rewrap``
converts both. Reads ids, index bytes and the sealed values it must open; logs counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    LargeBinary,
    Table,
    bindparam,
    delete,
    func,
    literal,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.errors import DecryptionFailed, StorageError
from medcrypt.crypto.server import blind_index as bi
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.keytree import KeyTree
from medcrypt.storage import deks, index_keys
from medcrypt.storage.encrypted import REGISTRY, EncryptedField
from medcrypt.storage.models import load_all
from medcrypt.storage.models.keytree import Dek, Kek
from medcrypt.storage.models.ratelimits import RateBucket

Sessions = sessionmaker[Session]
#: ``(done, total)`` after each committed batch (``total`` counted at the start).
Progress = Callable[[int, int], None]


@dataclass
class ReindexReport:
    """What a recompute did: counts only."""

    rows: int = 0
    destroyed_keys: int = 0
    #: Rows still under an older index DEK after the run (raced the pass): run again.
    pending: int = 0
    rate_limits_dropped: int = 0


class _StillUsed(Exception):
    def __init__(self, rows: int) -> None:
        self.rows = rows


def indexed_fields() -> list[tuple[type[Any], EncryptedField]]:
    """Every tree-sealed field with a blind index (identities, grants by address)."""
    load_all()
    return [(model, f) for (model, f) in (REGISTRY[k] for k in sorted(REGISTRY))
            if f.blind_index and f.tree_purpose is not None]


def _head(model: type[Any], field: EncryptedField) -> Any:
    col = getattr(model, str(field.blind_index))
    return type_coerce(func.substr(type_coerce(col, LargeBinary), 1, bi.PREFIX_BYTES),
                       LargeBinary)


def _stale(model: type[Any], field: EncryptedField, current: bytes) -> Any:
    return (getattr(model, str(field.blind_index)).is_not(None)
            & (_head(model, field) != literal(current, LargeBinary)))


def _under(model: type[Any], field: EncryptedField, prefix: bytes) -> Any:
    return (getattr(model, str(field.blind_index)).is_not(None)
            & (_head(model, field) == literal(prefix, LargeBinary)))


def count_under(session: Session, prefix: bytes) -> int:
    """Live rows (every indexed field) whose index was made under this index DEK."""
    return sum(int(session.scalar(select(func.count()).select_from(model)
                                  .where(_under(model, field, prefix))) or 0)
               for model, field in indexed_fields())


def figures(session: Session) -> tuple[int, int]:
    """``(live index DEKs, rows under an older one)`` for ``keys status``, from ids
    alone: no key is unwrapped, no provider call."""
    ids = [str(i) for i in session.scalars(
        select(Dek.id).where(Dek.person_id.is_(None), Dek.purpose == bi.PURPOSE,
                             Dek.wrapped.is_not(None))
        .order_by(Dek.version.desc(), Dek.created_at.desc(), Dek.id.desc()))]
    return len(ids), sum(count_under(session, bi.prefix(i)) for i in ids[1:])


def pending(session: Session) -> int:
    """Rows under an index DEK other than the newest live one (a close is unfinished)."""
    return figures(session)[1]


def reindex(sessions: Sessions, tree: KeyTree, *, now: datetime, batch: int = 500,
            progress: Progress | None = None) -> ReindexReport:
    """Recompute every live row's index under the current index DEK, then destroy the
    older index DEKs no row uses any more. Resumable; a finished run is a no-op."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    report = ReindexReport()
    with sessions.begin() as session:
        current = index_keys.current_key(session, tree, now=now)
        total = sum(int(session.scalar(select(func.count()).select_from(model)
                                       .where(_stale(model, field, current.prefix))) or 0)
                    for model, field in indexed_fields())
    if progress is not None:
        progress(0, total)
    for model, field in indexed_fields():
        after = ""
        while True:
            with sessions.begin() as session:
                # The key is read again per batch: the tree's cache zeroes a key whose
                # TTL ran out, and a long recompute must not outlive its bytes.
                key = index_keys.current_key(session, tree, now=now)
                if key.dek_id != current.dek_id:
                    raise StorageError("the current index key changed during the "
                                       "recompute; run the close again")
                moves, last = plan(session, tree, model, field, key, after=after,
                                   size=batch)
                moved = apply(session, model, field, moves)
            if last is None:
                break
            after = last
            report.rows += moved
            if progress is not None:
                progress(min(report.rows, total), max(total, report.rows))
    _destroy_older(sessions, tree, current, now=now, report=report)
    with sessions.begin() as session:
        dropped = session.execute(delete(RateBucket).where(
            type_coerce(func.substr(type_coerce(RateBucket.key, LargeBinary), 1,
                                    bi.PREFIX_BYTES), LargeBinary)
            != literal(current.prefix, LargeBinary)))
        report.rate_limits_dropped = int(getattr(dropped, "rowcount", 0) or 0)
    return report


@dataclass(frozen=True, slots=True)
class Planned:
    """One row's move, computed from a read: written only if the row still holds ``old``."""

    row_id: str
    old: bytes
    new: bytes


def plan(session: Session, tree: KeyTree, model: type[Any], field: EncryptedField,
         key: index_keys.IndexKey, *, after: str, size: int,
         ) -> tuple[list[Planned], str | None]:
    """Read one batch of rows after primary key ``after`` whose index is not under
    ``key`` and compute their new index: ``(moves, last key read)``; None when done.

    Each row is read with its DEK row and KEK in the same statement (the row check of
    ADR 0037, for the whole batch at once), and its DEK is unwrapped, used and zeroed
    here rather than cached: a close must not fill the replica's DEK cache with every
    person it passes over.
    """
    pk = getattr(model, field.id_attr)
    rows: list[Any] = list(session.execute(
        select(pk.label("row_id"), getattr(model, field.column).label("value"),
               getattr(model, str(field.blind_index)).label("old"),
               model.dek_id.label("row_dek"), model.dek_version.label("row_version"),
               Dek.version, Dek.purpose, Dek.person_id, Dek.kek_id, Dek.wrapped,
               Kek.wrapped.label("kek_wrapped"))
        .outerjoin(Dek, Dek.id == model.dek_id).outerjoin(Kek, Kek.id == Dek.kek_id)
        .where(pk > after, _stale(model, field, key.prefix))
        .order_by(pk).limit(size)).all())
    if not rows:
        return [], None
    moves = []
    column_key = bi.subkey(key.key, field.table, field.column)
    try:
        for r in rows:
            moves += _move(tree, field, r, column_key, key.dek_id)
    finally:
        column_key[:] = bytes(len(column_key))
    return moves, str(rows[-1].row_id)


def _move(tree: KeyTree, field: EncryptedField, r: Any, column_key: bytearray,
          dek_id: str) -> list[Planned]:
    """One row's planned move (none for a v1 value or a row without a live DEK)."""
    data = None if r.value is None else r.value.data
    if data is None or not kt.is_tree_sealed(data) or r.wrapped is None:
        return []  # a v1 keyring value (``keys rewrap`` converts it), or no key
    ref = kt.sealed_dek(data)
    if (ref.dek_id, ref.version) != (r.row_dek, r.row_version) or r.version != ref.version:
        raise DecryptionFailed()  # the value names another DEK than its row
    dek = kt.unwrap_dek(tree.kek(str(r.kek_id), bytes(r.kek_wrapped)), bytes(r.wrapped),
                        purpose=r.purpose, person_id=r.person_id, dek_id=ref.dek_id,
                        version=ref.version, kek_id=r.kek_id)
    try:
        value = kt.open_value(dek, data, table=field.table, column=field.column,
                              row_id=str(r.row_id)).decode("utf-8")
    finally:
        dek[:] = bytes(len(dek))
    return [Planned(str(r.row_id), bytes(r.old), bi.under(column_key, dek_id, value))]


def apply(session: Session, model: type[Any], field: EncryptedField,
          moves: list[Planned]) -> int:
    """Write planned moves by compare-and-set on the old index bytes; returns rows
    moved. A row erased (index NULL) or rewritten since the read stays as it is now."""
    table: Table = model.__table__
    index_col = table.c[str(field.blind_index)]
    id_col = table.c[field.id_attr]
    stmt = (update(table)
            .where(id_col == bindparam("b_id"), index_col == bindparam("b_old"))
            .values({index_col.name: bindparam("b_new")}))
    params = [{"b_id": m.row_id, "b_old": m.old, "b_new": m.new} for m in moves]
    if not params:
        return 0
    conn = session.connection()
    if conn.dialect.supports_sane_multi_rowcount:  # one executemany, rows counted exactly
        return int(getattr(conn.execute(stmt, params), "rowcount", 0) or 0)
    return sum(int(getattr(conn.execute(stmt, p), "rowcount", 0) or 0) for p in params)


def _destroy_older(sessions: Sessions, tree: KeyTree, current: index_keys.IndexKey, *,
                   now: datetime, report: ReindexReport) -> None:
    with sessions() as session:
        older = [k for k in index_keys.live_keys(session, tree) if k.dek_id != current.dek_id]
    for key in older:
        try:
            with sessions.begin() as session:
                # Blank the row first: on PostgreSQL this waits for an insert that took
                # the key as current (FOR SHARE), whose row the count below then sees.
                deks.destroy_dek(session, key.dek_id, now=now)
                left = count_under(session, key.prefix)
                if left:
                    raise _StillUsed(left)
        except _StillUsed as still:
            report.pending += still.rows
            continue
        tree.forget_dek(key.dek_id)
        report.destroyed_keys += 1
