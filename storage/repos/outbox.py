"""The outbox: enqueue, claim due rows, record the outcome.

Claims are leases: ``claimed_by``/``claimed_until``. On PostgreSQL due rows are
selected ``FOR UPDATE SKIP LOCKED`` so concurrent replicas take disjoint rows; SQLite
has a single writer (the transaction's BEGIN takes the write lock at the UPDATE), so a
plain select-then-update inside one transaction is already exclusive. A worker that
crashes mid-send leaves a lease that expires, and the row is claimed again - delivery
is at-least-once, and the platform message id dedupes the status callbacks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crypto.errors import StorageError
from storage.models.outbox import PAYLOAD_KINDS, OutboxMessage
from storage.repos._sql import insert_if_absent


def enqueue(
    session: Session,
    *,
    dest_identity_id: str,
    payload_kind: str,
    payload: bytes,
    now: datetime,
    dedupe_key: str | None = None,
    origin_identity_id: str | None = None,
    pairing_id: str | None = None,
) -> OutboxMessage | None:
    """Add a message to send; returns None when ``dedupe_key`` was already enqueued."""
    if payload_kind not in PAYLOAD_KINDS:
        raise StorageError(f"unknown outbox payload kind {payload_kind!r}")
    values = {
        "dest_identity_id": dest_identity_id, "origin_identity_id": origin_identity_id,
        "pairing_id": pairing_id, "payload_kind": payload_kind, "payload": payload,
        "status": "pending", "attempts": 0, "next_attempt_at": now,
        "dedupe_key": dedupe_key, "created_at": now, "updated_at": now,
    }
    if dedupe_key is not None:
        if not insert_if_absent(session, OutboxMessage.__table__, values):  # type: ignore[arg-type]
            return None
        return session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
        ).one()
    message = OutboxMessage(**values)
    session.add(message)
    session.flush()
    return message


def claim_due(
    session: Session, *, worker: str, now: datetime, lease: timedelta, limit: int = 20
) -> list[OutboxMessage]:
    """Claim up to ``limit`` due rows for ``worker`` (pending, or sending with a dead lease)."""
    stmt = (
        select(OutboxMessage)
        .where(
            or_(
                (OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now),
                (OutboxMessage.status == "sending") & (OutboxMessage.claimed_until < now),
            )
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = list(session.scalars(stmt))
    for row in rows:
        row.status = "sending"
        row.claimed_by = worker
        row.claimed_until = now + lease
        row.attempts += 1
        row.updated_at = now
    session.flush()
    return rows


def _get(session: Session, message_id: int) -> OutboxMessage:
    row = session.get(OutboxMessage, message_id)
    if row is None:
        raise StorageError(f"outbox row {message_id} does not exist")
    return row


def mark_sent(
    session: Session, message_id: int, *, platform_message_id: str | None, now: datetime
) -> OutboxMessage:
    row = _get(session, message_id)
    row.status = "sent"
    row.platform_message_id = platform_message_id
    row.claimed_by = None
    row.claimed_until = None
    row.sent_at = now
    row.updated_at = now
    session.flush()
    return row


def mark_delivered(
    session: Session, platform_message_id: str, *, now: datetime
) -> OutboxMessage | None:
    """Record a delivery receipt; unknown ids (not ours, or already pruned) return None."""
    row = session.scalars(
        select(OutboxMessage).where(OutboxMessage.platform_message_id == platform_message_id)
    ).first()
    if row is None:
        return None
    if row.status in ("sending", "sent"):
        row.status = "delivered"
        row.delivered_at = now
        row.updated_at = now
        session.flush()
    return row


def mark_retry(
    session: Session, message_id: int, *, error_code: str, next_attempt_at: datetime,
    now: datetime,
) -> OutboxMessage:
    """Release the claim and schedule another attempt (backoff chosen by the caller)."""
    row = _get(session, message_id)
    row.status = "pending"
    row.last_error_code = error_code
    row.next_attempt_at = next_attempt_at
    row.claimed_by = None
    row.claimed_until = None
    row.updated_at = now
    session.flush()
    return row


def mark_failed(
    session: Session, message_id: int, *, error_code: str, now: datetime
) -> OutboxMessage:
    """Give up on a row (permanent error or attempts exhausted)."""
    row = _get(session, message_id)
    row.status = "failed"
    row.last_error_code = error_code
    row.claimed_by = None
    row.claimed_until = None
    row.updated_at = now
    session.flush()
    return row
