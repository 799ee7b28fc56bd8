"""Bulk, idempotent enqueueing of the jobs' notices into the outbox.

``INSERT ... ON CONFLICT DO NOTHING`` for many rows at once: the outbox's unique
``dedupe_key`` - not a prior SELECT - decides whether a notice was already queued, so
two replicas running the same job queue each notice once. ``RETURNING`` counts what
was really inserted (``rowcount`` of a multi-row insert is not reliable on psycopg).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Table, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from medcrypt.bot.domain.lifecycle import notices
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.models.pairings import Pairing

OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
#: Parameter sets per execute call.
CHUNK = 1000


@dataclass(frozen=True)
class Notice:
    """One PHI-free text for one member of a pairing."""

    dest_identity_id: str
    pairing_id: str
    text: str
    dedupe_key: str


def insert_ignore(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows`` skipping unique-key conflicts; returns how many were inserted.

    One compiled statement executed for many parameter sets (SQLAlchemy's
    "insertmanyvalues" batches them into multi-row INSERTs at the string level), with
    ``RETURNING`` so the count is what the database really inserted.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    base: Any = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    key = next(iter(table.primary_key.columns))
    stmt = base.on_conflict_do_nothing().returning(key)
    inserted = 0
    for start in range(0, len(rows), CHUNK):
        inserted += len(session.execute(stmt, list(rows[start:start + CHUNK])).all())
    return inserted


def queue_notices(session: Session, notices: Sequence[Notice], now: datetime) -> int:
    """Queue notices once each (by dedupe key); returns how many were new."""
    rows = [
        {
            "dest_identity_id": n.dest_identity_id, "origin_identity_id": None,
            "pairing_id": n.pairing_id, "payload_kind": "notice",
            "payload": n.text.encode("utf-8"), "status": "pending", "attempts": 0,
            "next_attempt_at": now, "dedupe_key": n.dedupe_key, "created_at": now,
            "updated_at": now,
        }
        for n in notices
    ]
    return insert_ignore(session, OUTBOX, rows) if rows else 0


def queue_member_notices(
    session: Session, kind: str, epoch: int, pairing_ids: Sequence[str], *, text: str,
    now: datetime,
) -> int:
    """Queue ``text`` once to each member of each pairing, set-based; returns how many were new.

    The same notices :func:`queue_notices` would queue for
    ``Notice(member, pid, text, notices.dedupe_key(kind, pid, epoch, member))`` - the
    dedupe key is built by the database with the same format - but as one
    ``INSERT ... SELECT ... FROM pairings ON CONFLICT DO NOTHING`` per member column and
    chunk: no row crosses into Python and back, which at 100,000 pairings was a fifth
    of the sweep's and rotation's time. Callers group pairings that get the same text
    (same epoch, same grace window).
    """
    if not pairing_ids:
        return 0
    dialect = session.get_bind().dialect.name
    base: Any = postgresql.insert(OUTBOX) if dialect == "postgresql" else sqlite.insert(OUTBOX)
    cols = ["dest_identity_id", "pairing_id", "payload_kind", "payload", "status", "attempts",
            "next_attempt_at", "dedupe_key", "created_at", "updated_at"]
    stamp = literal(now, OUTBOX.c.created_at.type)
    payload = literal(text.encode("utf-8"), OUTBOX.c.payload.type)
    head, middle = notices.dedupe_affixes(kind, epoch)
    ids = sorted(set(pairing_ids))
    inserted = 0
    for member in (Pairing.physician_id, Pairing.patient_id):
        for start in range(0, len(ids), CHUNK):
            source = select(
                member, Pairing.pairing_id, literal("notice", String()), payload,
                literal("pending", String()), literal(0, Integer()), stamp,
                literal(head, String()) + Pairing.pairing_id + literal(middle, String()) + member,
                stamp, stamp,
            ).where(Pairing.pairing_id.in_(ids[start:start + CHUNK]), member.is_not(None))
            stmt = base.from_select(cols, source).on_conflict_do_nothing().returning(
                OUTBOX.c.id)
            # RETURNING, as above: psycopg reports no rowcount for this statement.
            inserted += len(session.execute(stmt).all())
    return inserted
