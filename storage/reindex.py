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

from sqlalchemy import LargeBinary, Table, delete, func, literal, select, type_coerce, update
from sqlalchemy.orm import Session, sessionmaker, undefer

from medcrypt.crypto.errors import StorageError
from medcrypt.crypto.server import blind_index as bi
from medcrypt.crypto.server.keytree import KeyTree
from medcrypt.storage import deks, index_keys
from medcrypt.storage.encrypted import REGISTRY, EncryptedField
from medcrypt.storage.models import load_all
from medcrypt.storage.models.keytree import Dek
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
    ``key`` and compute their new index: ``(moves, last key read)``; None when done."""
    pk = getattr(model, field.id_attr)
    rows = list(session.scalars(
        select(model).where(pk > after, _stale(model, field, key.prefix))
        .order_by(pk).limit(size)
        .options(undefer(model.dek_id), undefer(model.dek_version))))
    if not rows:
        return [], None
    moves = []
    for row in rows:
        value = field.reveal_tree_sealed(row, tree, session=session)
        if value is None:  # a v1 keyring value: ``keys rewrap`` converts it
            continue
        moves.append(Planned(str(getattr(row, field.id_attr)),
                             bytes(getattr(row, str(field.blind_index))),
                             key.index(field.table, field.column, value)))
    return moves, str(getattr(rows[-1], field.id_attr))


def apply(session: Session, model: type[Any], field: EncryptedField,
          moves: list[Planned]) -> int:
    """Write planned moves by compare-and-set on the old index bytes; returns rows
    moved. A row erased (index NULL) or rewritten since the read stays as it is now."""
    table: Table = model.__table__
    index_col = table.c[str(field.blind_index)]
    id_col = table.c[field.id_attr]
    moved = 0
    for move in moves:  # one statement per row: each CAS result is counted exactly
        result = session.execute(update(table)
                                 .where(id_col == move.row_id, index_col == move.old)
                                 .values({index_col.name: move.new}))
        moved += int(getattr(result, "rowcount", 0) or 0)
    return moved


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
