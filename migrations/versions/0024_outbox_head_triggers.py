"""On SQLite, triggers keep ``outbox_heads`` (ADR 0024, Amendment 1).

Every write to ``outbox`` used to be followed by one to four more statements from
Python keeping the recipient's head (storage/repos/outbox_heads.py): an upsert per
enqueue, a lock-read-move-drop per batch of outcomes, a ``due_at`` reset per claim.
On SQLite, where one process writes at a time and no lock order has to be argued, the
database does the same work in the same transaction, row by row, without a round trip
through the driver and SQLAlchemy for each step. It also closes the gap the sweep was
for: a write to ``outbox`` from anywhere keeps its heads at once, not within a minute.

PostgreSQL keeps the Python maintenance: its lock order (heads first, in recipient
order) is what ADR 0024 proves free of deadlocks and lost heads between replicas, and
a row trigger would take those locks in row order instead. On PostgreSQL this
revision changes nothing.

The rules are ADR 0024's, over the partial index ``ix_outbox_blocking_dest_id``: a
recipient with a blocking row (pending, sending or held; templates aside) has one head
row naming the lowest, with ``due_at`` its ``next_attempt_at`` while pending and NULL
otherwise; a recipient without one has no head row. The heads are correct at upgrade
time (the Python side kept them), so nothing is backfilled.

Revision ID: 0024_outbox_head_triggers
Revises: 0023_purpose_deks
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0024_outbox_head_triggers"
down_revision: str | None = "0023_purpose_deks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The same literals as the partial index's predicate, so SQLite's planner proves the
#: probe implies it and reads the index (migrations/versions/0016_outbox_heads.py).
_BLOCKING = "{o}.status IN ('pending', 'sending', 'held') AND {o}.payload_kind != 'template'"


def _recompute(dest: str, *, cascade: bool = False) -> str:
    """The head of recipient ``dest`` (an expression over NEW/OLD), recomputed: dropped
    when no blocking row is left, else set to the lowest one (written only if it moved
    or its due time changed). ``cascade``: the delete may come from the recipient's own
    deletion, whose cascades remove its rows one by one and its head - no head is
    written for a recipient that no longer exists, whichever order SQLite runs the two
    cascades in."""
    blocking = _BLOCKING.format(o="b")
    alive = (f" AND EXISTS (SELECT 1 FROM platform_identities p WHERE p.id = {dest})"  # noqa: S608 - fixed fragments
             if cascade else "")
    return f"""
    DELETE FROM outbox_heads WHERE dest_identity_id = {dest} AND NOT EXISTS (
        SELECT 1 FROM outbox b WHERE b.dest_identity_id = {dest} AND {blocking});
    INSERT INTO outbox_heads (dest_identity_id, head_id, due_at)
        SELECT o.dest_identity_id, o.id,
               CASE WHEN o.status = 'pending' THEN o.next_attempt_at END
        FROM outbox o
        WHERE o.id = (SELECT min(b.id) FROM outbox b
                      WHERE b.dest_identity_id = {dest} AND {blocking}){alive}
    ON CONFLICT (dest_identity_id) DO UPDATE SET
        head_id = excluded.head_id, due_at = excluded.due_at
    WHERE outbox_heads.head_id IS NOT excluded.head_id
       OR outbox_heads.due_at IS NOT excluded.due_at;"""  # noqa: S608 - fixed fragments


#: name -> CREATE TRIGGER statement.
TRIGGERS = {
    # A new blocking row becomes the head unless a lower one already is.
    "outbox_heads_on_insert": f"""
CREATE TRIGGER outbox_heads_on_insert AFTER INSERT ON outbox
WHEN {_BLOCKING.format(o="NEW")}
BEGIN
    INSERT INTO outbox_heads (dest_identity_id, head_id, due_at)
    VALUES (NEW.dest_identity_id, NEW.id,
            CASE WHEN NEW.status = 'pending' THEN NEW.next_attempt_at END)
    ON CONFLICT (dest_identity_id) DO UPDATE SET
        head_id = CASE WHEN excluded.head_id < outbox_heads.head_id
                       THEN excluded.head_id ELSE outbox_heads.head_id END,
        due_at = CASE WHEN excluded.head_id < outbox_heads.head_id
                      THEN excluded.due_at ELSE outbox_heads.due_at END;
END""",  # noqa: S608 - fixed fragments
    # A status or due-time change of a row that blocks (or blocked) its recipient: a
    # claim (the head's due_at becomes NULL), a send (the head moves on), a retry, a
    # hold, a give-up. Receipts change delivery_status only and fire nothing.
    "outbox_heads_on_update": f"""
CREATE TRIGGER outbox_heads_on_update
AFTER UPDATE OF status, next_attempt_at, payload_kind, dest_identity_id ON outbox
WHEN ({_BLOCKING.format(o="OLD")}) OR ({_BLOCKING.format(o="NEW")})
BEGIN{_recompute("NEW.dest_identity_id")}
END""",
    # A row moved to another recipient (nothing does this today): the old one too.
    "outbox_heads_on_move": f"""
CREATE TRIGGER outbox_heads_on_move AFTER UPDATE OF dest_identity_id ON outbox
WHEN OLD.dest_identity_id IS NOT NEW.dest_identity_id AND ({_BLOCKING.format(o="OLD")})
BEGIN{_recompute("OLD.dest_identity_id")}
END""",
    "outbox_heads_on_delete": f"""
CREATE TRIGGER outbox_heads_on_delete AFTER DELETE ON outbox
WHEN {_BLOCKING.format(o="OLD")}
BEGIN{_recompute("OLD.dest_identity_id", cascade=True)}
END""",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in TRIGGERS.values():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
