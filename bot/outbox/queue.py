"""Outbox rows: enqueue (inside the inbound transaction), claim, and record outcomes.

Ordering: per recipient, rows go out strictly in id order - a row is claimable only when
it is the lowest-id row of its recipient that is still pending, sending or held. That keeps the
parts of a long token in order and makes a Telegram 429 (``retry_after``) or a closed
WhatsApp window delay exactly one chat: its head row waits, every other chat's head row
stays claimable. The PHI-free WhatsApp template is exempt, so it can overtake the
message it announces.

Claiming: on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED`` lets several bot replicas
claim disjoint rows; on SQLite (one writer at a time) the select-then-update runs in one
``BEGIN`` transaction. Either way the claimed row becomes ``sending`` with a lease in
``claimed_until``; a worker that dies mid-send leaves a row whose lease expires, and
:func:`in_doubt` hands it to recovery (see docs/DELIVERY.md for the exactly-once
argument).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot.messages import OutboundMessage, OutKind
from storage.models.bot_relay import BotMedia, BotOutbox

#: Rows that block later rows to the same recipient.
_BLOCKING = ("pending", "sending", "held")


def enqueue(
    session: Session,
    message: OutboundMessage,
    parts: Sequence[str],
    now: datetime,
) -> list[int]:
    """Add the rows for one outbound message; ``parts`` are the texts (one per row)."""
    media_id: str | None = None
    if message.kind is OutKind.FILE:
        if message.document is None:
            raise ValueError("a FILE message needs a document")
        media_id = secrets.token_hex(16)
        session.add(BotMedia(
            id=media_id, data=message.document.data, created_at=now,
            url_hash=None, url_expires_at=None,
        ))
        parts = [""]
    rows = [
        BotOutbox(
            recipient_id=message.recipient_id, kind=message.kind.value, body=text,
            media_id=media_id,
            filename=message.document.filename if message.document else None,
            origin_id=message.origin_id, pairing_id=message.pairing_id, status="pending",
            attempts=0, next_attempt_at=now, claimed_until=None, claimed_by=None,
            platform_message_id=None, delivery_status=None, error_code=None,
            created_at=now, updated_at=now,
        )
        for text in parts
    ]
    session.add_all(rows)
    session.flush()
    return [r.id for r in rows]


def claim(
    session: Session, *, now: datetime, lease: timedelta, worker: str, limit: int,
    postgres: bool,
) -> list[BotOutbox]:
    """Claim up to ``limit`` due head-of-line rows; the caller commits."""
    # Head of each recipient's queue: the lowest id still pending, sending or held.
    # One grouped pass over the unfinished rows (index on recipient_id, status) instead
    # of a correlated "no earlier row" probe per candidate, which is quadratic when one
    # chat has a backlog.
    heads = (
        select(func.min(BotOutbox.id))
        .where(BotOutbox.status.in_(_BLOCKING), BotOutbox.kind != OutKind.TEMPLATE.value)
        .group_by(BotOutbox.recipient_id)
    )
    query = (
        select(BotOutbox)
        .where(
            BotOutbox.status == "pending",
            BotOutbox.next_attempt_at <= now,
            or_(BotOutbox.kind == OutKind.TEMPLATE.value, BotOutbox.id.in_(heads)),
        )
        .order_by(BotOutbox.id)
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True, of=BotOutbox)
    rows = list(session.scalars(query))
    for row in rows:
        row.status = "sending"
        row.claimed_until = now + lease
        row.claimed_by = worker
        row.attempts += 1
        row.updated_at = now
    session.flush()
    return rows


def in_doubt(session: Session, *, now: datetime, limit: int = 100) -> list[BotOutbox]:
    """Rows whose sender died mid-send: the platform may or may not have them."""
    return list(session.scalars(
        select(BotOutbox)
        .where(BotOutbox.status == "sending", BotOutbox.claimed_until < now)
        .order_by(BotOutbox.id)
        .limit(limit)
    ))


def mark_sent(row: BotOutbox, platform_message_id: str, now: datetime) -> None:
    row.status = "sent"
    row.platform_message_id = platform_message_id[:64]
    row.delivery_status = row.delivery_status or "sent"
    row.claimed_until = None
    row.updated_at = now


def mark_retry(row: BotOutbox, at: datetime, error_code: str, now: datetime) -> None:
    row.status = "pending"
    row.next_attempt_at = at
    row.error_code = error_code[:32]
    row.claimed_until = None
    row.updated_at = now


def mark_dead(row: BotOutbox, error_code: str, now: datetime) -> None:
    row.status = "dead"
    row.delivery_status = "failed"
    row.error_code = error_code[:32]
    row.claimed_until = None
    row.updated_at = now


def hold(row: BotOutbox, error_code: str, now: datetime) -> None:
    """Park a row until the recipient writes again (WhatsApp window closed)."""
    row.status = "held"
    row.error_code = error_code[:32]
    row.claimed_until = None
    row.attempts = max(0, row.attempts - 1)  # the window, not the message, failed
    row.updated_at = now


def release_held(session: Session, recipient_id: str, now: datetime) -> int:
    """The recipient wrote to us: everything held for them becomes due now."""
    result = session.execute(
        update(BotOutbox)
        .where(BotOutbox.recipient_id == recipient_id, BotOutbox.status == "held")
        .values(status="pending", next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def delay_recipient(session: Session, recipient_id: str, until: datetime, now: datetime) -> None:
    """Honour a per-chat ``retry_after``: push every due row of this recipient back."""
    session.execute(
        update(BotOutbox)
        .where(
            BotOutbox.recipient_id == recipient_id,
            BotOutbox.status == "pending",
            BotOutbox.next_attempt_at < until,
        )
        .values(next_attempt_at=until, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def record_status(
    session: Session, platform_message_id: str, status: str, error_code: str | None,
    now: datetime,
) -> BotOutbox | None:
    """Apply a delivery-status callback; statuses only move forward."""
    row = session.scalar(
        select(BotOutbox).where(BotOutbox.platform_message_id == platform_message_id)
    )
    if row is None:
        return None
    order = {"accepted": 0, "queued": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4,
             "undelivered": 5, "failed": 5}
    current = order.get(row.delivery_status or "accepted", 0)
    if order.get(status, -1) >= current:
        row.delivery_status = status
        if status in ("delivered", "read"):
            row.body = ""  # delivered: the relay keeps no second copy of the token
        if error_code:
            row.error_code = error_code[:32]
        row.updated_at = now
    return row


def next_due(session: Session, now: datetime) -> datetime | None:
    """When the earliest pending row becomes due (for the worker's sleep)."""
    return session.scalar(
        select(BotOutbox.next_attempt_at)
        .where(and_(BotOutbox.status == "pending"))
        .order_by(BotOutbox.next_attempt_at)
        .limit(1)
    )
