"""Each recipient's queue head (``outbox_heads``): kept with the rows, so the claim never
has to look at a whole backlog (ADR 0024).

The invariant: every recipient with a blocking outbox row (pending, sending or held;
templates aside) has exactly one head row naming the lowest such row, with ``due_at``
its ``next_attempt_at`` while it is pending and NULL otherwise.

On SQLite the database keeps it: triggers on ``outbox`` (migration 0024, ADR 0024
Amendment 1) recompute a recipient's head in the statement that changed its rows, so
:func:`note_enqueued`, :func:`note_enqueued_rows` and :func:`changed` do nothing there
(:func:`kept_by_triggers`). On PostgreSQL every function that changes outbox rows calls
one of these in the same transaction:

* :func:`note_enqueued` / :func:`note_enqueued_rows` after an INSERT. ``INSERT ... ON
  CONFLICT DO UPDATE`` keeps the lower of the two ids. The UPDATE branch matters even
  when it changes nothing: it locks the head row, so a worker advancing the same head
  either runs first (and the new row then finds the head gone or moved, and wins the
  insert) or waits for this transaction and then sees the new row - a head advance can
  never delete the head a concurrent enqueue relied on.
* :func:`changed` (:func:`refresh`) after any status or due-time change or delete: it
  locks the heads
  first (``FOR UPDATE``, in recipient order, so two refreshes cannot deadlock), then
  reads each recipient's lowest blocking row in a new statement - under READ COMMITTED
  that read sees every enqueue that touched the head before the lock was granted.

:func:`repair` is the sweep for what slipped past (a cascade delete from another table,
a bug): it finds wrong or missing heads with a pass over the blocking rows and refreshes
exactly those. On SQLite (one writer at a time) ``FOR UPDATE`` is not rendered and not
needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from medcrypt.storage.models.outbox import OutboxHead, OutboxMessage

_HEADS: Table = OutboxHead.__table__  # type: ignore[assignment]
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
#: Row lists per statement (IN lists and executemany batches).
_CHUNK = 500


def blocking(row: Any) -> Any:
    """The SQL condition "this outbox row keeps later rows of its recipient waiting".

    Constants are literals, not bind parameters: only then can PostgreSQL and SQLite
    prove the query implies the partial index's predicate and use the index.
    """
    return and_(row.status.in_([literal_column("'pending'"), literal_column("'sending'"),
                                literal_column("'held'")]),
                row.payload_kind != literal_column("'template'"))


def _due(row: Any) -> Any:
    """A head's ``due_at``: the row's due time while it is pending, else NULL."""
    return case((row.status == "pending", row.next_attempt_at), else_=null())


def _keep_lower(insert: Any) -> Any:
    """``ON CONFLICT DO UPDATE`` keeping the lower head id (and its due time)."""
    lower = insert.excluded.head_id < _HEADS.c.head_id
    return insert.on_conflict_do_update(
        index_elements=[_HEADS.c.dest_identity_id],
        set_={"head_id": case((lower, insert.excluded.head_id), else_=_HEADS.c.head_id),
              "due_at": case((lower, insert.excluded.due_at), else_=_HEADS.c.due_at)})


# Built once per dialect: every enqueue runs one of these.
_NOTE: dict[str, Any] = {
    "postgresql": _keep_lower(postgresql.insert(_HEADS)),
    "sqlite": _keep_lower(sqlite.insert(_HEADS)),
}
_LOCK = (select(_HEADS.c.dest_identity_id)
         .where(_HEADS.c.dest_identity_id.in_(bindparam("dests", expanding=True)))
         .order_by(_HEADS.c.dest_identity_id)
         .with_for_update())


def _lowest_blocking() -> Any:
    """Per head row named in ``dests``: the recipient's lowest blocking row, if any
    (one probe of the partial index ``ix_outbox_blocking_dest_id`` per recipient)."""
    inner = aliased(_OUTBOX)
    lowest = (select(inner.c.id)
              .where(inner.c.dest_identity_id == _HEADS.c.dest_identity_id,
                     blocking(inner.c))
              .order_by(inner.c.id).limit(1).correlate(_HEADS).scalar_subquery())
    o = _OUTBOX.c
    return (select(_HEADS.c.dest_identity_id, o.id, _due(o).label("due_at"))
            .select_from(_HEADS.outerjoin(_OUTBOX, o.id == lowest))
            .where(_HEADS.c.dest_identity_id.in_(bindparam("dests", expanding=True))))


_LOWEST = _lowest_blocking()
_MOVE = (update(_HEADS).where(_HEADS.c.dest_identity_id == bindparam("dest"))
         .values(head_id=bindparam("head_id"), due_at=bindparam("due_at")))
_DROP = delete(_HEADS).where(_HEADS.c.dest_identity_id.in_(bindparam("dests", expanding=True)))
_FIRST_OF = (select(_OUTBOX.c.dest_identity_id, _OUTBOX.c.id, _due(_OUTBOX.c).label("due_at"))
             .where(_OUTBOX.c.id == (
                 select(func.min(_OUTBOX.c.id).label("first")).where(
                     _OUTBOX.c.dest_identity_id == bindparam("dest"), blocking(_OUTBOX.c))
                 .scalar_subquery())))


def _conn(session: Session | Connection) -> Connection:
    return session.connection() if isinstance(session, Session) else session


def kept_by_triggers(conn: Connection) -> bool:
    """Whether the database keeps the heads itself (SQLite, migration 0024)."""
    return conn.dialect.name == "sqlite"


def note_enqueued(session: Session | Connection, dest: str, row_id: int,
                  due_at: datetime) -> None:
    """A new pending row ``row_id`` for ``dest``: it becomes the head unless a lower
    blocking row already is."""
    conn = _conn(session)
    if kept_by_triggers(conn):
        return
    _note(conn, dest, row_id, due_at)


def _note(conn: Connection, dest: str, row_id: int, due_at: datetime) -> None:
    conn.execute(_NOTE[conn.dialect.name],
                 {"dest_identity_id": dest, "head_id": row_id, "due_at": due_at})


def note_enqueued_rows(session: Session | Connection, row_ids: Sequence[int]) -> None:
    """:func:`note_enqueued` for rows inserted set-based (notices for many pairings):
    each recipient's lowest new row, read back by id."""
    conn = _conn(session)
    if kept_by_triggers(conn):
        return
    ids = sorted(set(row_ids))
    o = _OUTBOX.c
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        firsts = (select(func.min(o.id)).where(o.id.in_(chunk), blocking(o))
                  .group_by(o.dest_identity_id))
        found = conn.execute(
            select(o.dest_identity_id, o.id, _due(o)).where(o.id.in_(firsts))
            .order_by(o.dest_identity_id)).all()
        if found:
            conn.execute(_NOTE[conn.dialect.name], [
                {"dest_identity_id": d, "head_id": i, "due_at": due} for d, i, due in found])


def changed(session: Session | Connection, dests: Iterable[str]) -> None:
    """Rows of ``dests`` changed status, due time or were deleted: keep their heads
    (:func:`refresh`; nothing to do where triggers did it already)."""
    conn = _conn(session)
    if not kept_by_triggers(conn):
        refresh(conn, dests)


def refresh(session: Session | Connection, dests: Iterable[str]) -> None:
    """Recompute the heads of ``dests`` from their rows (see the module doc), on every
    backend: the claim's repair of a head it found stale, and the sweep, use it too."""
    conn = _conn(session)
    wanted = sorted(set(dests))
    for start in range(0, len(wanted), _CHUNK):
        _refresh_chunk(conn, wanted[start:start + _CHUNK])


def _refresh_chunk(conn: Connection, dests: list[str]) -> None:
    locked = set(conn.execute(_LOCK, {"dests": dests}).scalars())
    moves: list[dict[str, Any]] = []
    gone: list[str] = []
    if locked:
        for dest, head_id, due_at in conn.execute(_LOWEST, {"dests": sorted(locked)}):
            if head_id is None:
                gone.append(dest)
            else:
                moves.append({"dest": dest, "head_id": head_id, "due_at": due_at})
    if moves:
        conn.execute(_MOVE, moves)
    if gone:
        conn.execute(_DROP, {"dests": gone})
    for dest in dests:
        if dest in locked:
            continue
        # No head row to lock: a concurrent enqueue may be inserting one. Insert ours
        # with the same keep-the-lower rule, never delete.
        first = conn.execute(_FIRST_OF, {"dest": dest}).first()
        if first is not None:
            _note(conn, first[0], int(first[1]), first[2])


def repair(session: Session | Connection) -> int:
    """Find recipients whose head is missing, stale or wrong and recompute theirs;
    returns how many. One pass over the blocking rows: a sweep, not a hot path."""
    conn = _conn(session)
    o = _OUTBOX.c
    h = _HEADS.c
    lower = aliased(_OUTBOX)
    headless = (select(o.dest_identity_id).where(blocking(o), ~exists().where(
        h.dest_identity_id == o.dest_identity_id)).distinct())
    wrong = (select(h.dest_identity_id)
             .select_from(_HEADS.outerjoin(_OUTBOX, o.id == h.head_id))
             .where(or_(
                 o.id.is_(None), ~blocking(o), o.dest_identity_id != h.dest_identity_id,
                 exists().where(lower.c.dest_identity_id == h.dest_identity_id,
                                blocking(lower.c), lower.c.id < h.head_id),
                 and_(o.status == "pending",
                      or_(h.due_at.is_(None), h.due_at != o.next_attempt_at)),
                 and_(o.status != "pending", h.due_at.is_not(None)))))
    dests = set(conn.execute(headless).scalars()) | set(conn.execute(wrong).scalars())
    refresh(conn, dests)
    return len(dests)
