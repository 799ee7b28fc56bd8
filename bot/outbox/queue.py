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
from typing import Any

from sqlalchemy import (
    Row,
    Select,
    String,
    Table,
    Update,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from medcrypt.bot.domain.messages import OutboundMessage, OutKind
from medcrypt.crypto.keyless.wire import parse_file_header
from medcrypt.storage.models.media import MediaBlob
from medcrypt.storage.models.outbox import EarlyReceipt, OutboxMessage

#: Rows that block later rows to the same recipient.
_BLOCKING = ("pending", "sending", "held")
#: How the relay's message kinds are stored (``outbox.payload_kind``).
_PAYLOAD_KIND = {OutKind.TOKEN: "text", OutKind.FILE: "document",
                 OutKind.NOTICE: "notice", OutKind.TEMPLATE: "template"}
_OUT_KIND = {v: k for k, v in _PAYLOAD_KIND.items()}
_FILE_TYPE = "application/vnd.medcrypt.file"
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_MEDIA: Table = MediaBlob.__table__  # type: ignore[assignment]
#: Built once (every relayed message runs it; building a statement cost more than running).
_ENQUEUE = insert(_OUTBOX).returning(_OUTBOX.c.id)
#: Name every relayed file is delivered under: the sender's own file name could say what
#: the file is about, so it is neither stored nor passed on (the encrypted manifest
#: carries the real name to the other companion).
FILE_NAME = "message.mcf"


def payload_kind(kind: OutKind) -> str:
    return _PAYLOAD_KIND[kind]


def out_kind(row: OutboxMessage | Row[*tuple[Any, ...]]) -> OutKind:
    return _OUT_KIND[row.payload_kind]


def body_of(row: OutboxMessage | Row[*tuple[Any, ...]]) -> str:
    """The text to send (tokens are ASCII, notices UTF-8); empty for files and templates."""
    if row.payload_kind in ("text", "notice"):
        return row.payload.decode("utf-8")
    return ""


def enqueue(
    session: Session,
    message: OutboundMessage,
    parts: Sequence[str],
    now: datetime,
) -> list[int]:
    """Add the rows for one outbound message; ``parts`` are the texts (one per row).

    A file is stored once in ``media_blobs``. A relayed file is filed under its pairing
    and epoch (so shredding the epoch deletes it) and its row carries only the file's
    keyless routing header; the bot's own documents (a break-glass bundle) belong to no
    epoch and are pruned once delivered.
    """
    media_id: str | None = None
    filename: str | None = None
    payloads = [p.encode("utf-8") for p in parts]
    if message.kind is OutKind.FILE:
        if message.document is None:
            raise ValueError("a FILE message needs a document")
        data = message.document.data
        pairing_id, epoch, payloads = None, None, [b""]
        filename = message.document.filename[:64]
        if message.pairing_id is not None:
            filename = None
            header = parse_file_header(data)
            pairing_id, epoch, payloads = message.pairing_id, header.epoch, [header.raw]
        media_id = secrets.token_hex(16)
    if session.new or session.dirty or session.deleted:
        session.flush()  # Core below does not autoflush; rows it references must exist
    conn = session.connection()
    if media_id is not None and message.document is not None:
        conn.execute(insert(_MEDIA).values(
            id=media_id, pairing_id=pairing_id, epoch=epoch, data=message.document.data,
            path=None, content_type=_FILE_TYPE, size=len(message.document.data),
            url_token_hash=None, created_at=now, expires_at=None))
    # Core, not the unit of work: this runs for every relayed message.
    return [conn.execute(_ENQUEUE, {
        "dest_identity_id": message.recipient_id, "origin_identity_id": message.origin_id,
        "pairing_id": message.pairing_id, "payload_kind": _PAYLOAD_KIND[message.kind],
        "payload": payload, "media_id": media_id, "filename": filename, "status": "pending",
        "attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now,
    }).scalar_one() for payload in payloads]


#: What the worker reads of a claimed row (the rest stays in the table).
_CLAIMED = (_OUTBOX.c.id, _OUTBOX.c.dest_identity_id, _OUTBOX.c.origin_identity_id,
            _OUTBOX.c.payload_kind, _OUTBOX.c.payload, _OUTBOX.c.media_id,
            _OUTBOX.c.filename, _OUTBOX.c.created_at, _OUTBOX.c.claimed_until)


def _claim_query() -> Select[Any]:
    c = _OUTBOX.c
    # Head of each recipient's queue: the lowest id still pending, sending or held.
    # One grouped pass over the unfinished rows (index on dest_identity_id, status)
    # instead of a correlated "no earlier row" probe per candidate, which is quadratic
    # when one chat has a backlog.
    heads = (
        select(func.min(c.id))
        .where(c.status.in_(_BLOCKING), c.payload_kind != "template")
        .group_by(c.dest_identity_id)
    )
    return (
        select(*_CLAIMED)
        .where(c.status == "pending", c.next_attempt_at <= bindparam("now"),
               or_(c.payload_kind == "template", c.id.in_(heads)))
        .order_by(c.id)
        .limit(bindparam("limit"))
    )


# Built once: the worker claims in a loop (see the statements in bot/relay/router.py).
_CLAIM = _claim_query()
#: PostgreSQL: several replicas claim disjoint rows.
_CLAIM_FOR_UPDATE = _CLAIM.with_for_update(skip_locked=True, of=_OUTBOX)
_MARK_CLAIMED = (update(_OUTBOX).where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
                 .values(status="sending", claimed_until=bindparam("until"),
                         claimed_by=bindparam("worker"), attempts=_OUTBOX.c.attempts + 1,
                         updated_at=bindparam("now")))


def claim(
    session: Session, *, now: datetime, lease: timedelta, worker: str, limit: int,
    postgres: bool,
) -> list[Row[*tuple[Any, ...]]]:
    """Claim up to ``limit`` due head-of-line rows; the caller commits.

    One SELECT and one UPDATE for the whole batch, in Core (the worker runs this in a
    loop; loading ORM rows and flushing them one UPDATE each cost more than the SQL).
    """
    conn = session.connection()
    rows = list(conn.execute(_CLAIM_FOR_UPDATE if postgres else _CLAIM,
                             {"now": now, "limit": limit}).all())
    if rows:
        conn.execute(_MARK_CLAIMED, {"ids": [r.id for r in rows], "until": now + lease,
                                     "worker": worker, "now": now})
    return rows


def in_doubt(session: Session, *, now: datetime, limit: int = 100) -> list[OutboxMessage]:
    """Rows whose sender died mid-send: the platform may or may not have them."""
    return list(session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now)
        .order_by(OutboxMessage.id)
        .limit(limit)
    ))


def mark_sent(row: OutboxMessage, platform_message_id: str, now: datetime) -> None:
    row.status = "sent"
    row.platform_message_id = platform_message_id[:128]
    row.delivery_status = row.delivery_status or "sent"
    row.claimed_until = None
    row.sent_at = now
    row.updated_at = now


def mark_sent_many(session: Session, marks: Sequence[tuple[int, str]], now: datetime) -> None:
    """:func:`mark_sent` for many ``(row id, platform message id)`` at once: one
    statement executed for every pair (the send path records a burst of answers)."""
    if not marks:
        return
    session.connection().execute(
        update(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id"))
        .values(status="sent", platform_message_id=bindparam("sid"),
                delivery_status=func.coalesce(_OUTBOX.c.delivery_status, "sent"),
                claimed_until=None, sent_at=now, updated_at=now),
        [{"row_id": row_id, "sid": sid[:128]} for row_id, sid in marks])


def mark_dead_by_id(session: Session, row_id: int, error_code: str, now: datetime) -> None:
    """:func:`mark_dead` for a claimed row the worker holds as a plain Row."""
    session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(
        status="failed", delivery_status="failed", last_error_code=error_code[:64],
        claimed_until=None, updated_at=now).execution_options(synchronize_session=False))


def mark_retry(row: OutboxMessage, at: datetime, error_code: str, now: datetime) -> None:
    row.status = "pending"
    row.next_attempt_at = at
    row.last_error_code = error_code[:64]
    row.claimed_until = None
    row.updated_at = now


def mark_dead(row: OutboxMessage, error_code: str, now: datetime) -> None:
    """Give up on a row (permanent error or last attempt): status ``failed``."""
    row.status = "failed"
    row.delivery_status = "failed"
    row.last_error_code = error_code[:64]
    row.claimed_until = None
    row.updated_at = now


def hold(row: OutboxMessage, error_code: str, now: datetime) -> None:
    """Park a row until the recipient writes again (WhatsApp window closed)."""
    row.status = "held"
    row.last_error_code = error_code[:64]
    row.claimed_until = None
    row.attempts = max(0, row.attempts - 1)  # the window, not the message, failed
    row.updated_at = now


def release_held(session: Session, recipient_id: str, now: datetime) -> int:
    """The recipient wrote to us: everything held for them becomes due now."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dest_identity_id == recipient_id, OutboxMessage.status == "held")
        .values(status="pending", next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def delay_recipient(session: Session, recipient_id: str, until: datetime, now: datetime) -> None:
    """Honour a per-chat ``retry_after``: push every due row of this recipient back."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.dest_identity_id == recipient_id,
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at < until,
        )
        .values(next_attempt_at=until, updated_at=now)
        .execution_options(synchronize_session=False)
    )


_RECEIPT_ORDER = {"accepted": 0, "queued": 0, "sending": 1, "sent": 2, "delivered": 3,
                  "read": 4, "undelivered": 5, "failed": 5}


def _receipt_rank(column: object) -> object:
    return case(_RECEIPT_ORDER, value=column, else_=0)


def advance_status(session: Session, platform_message_id: str, status: str,
                   error_code: str | None, now: datetime) -> bool | None:
    """:func:`record_status` for receipts that need no follow-up (not a failure), as one
    UPDATE: True if applied, False if the row is already further on, None if no row
    carries this id yet (the caller stashes the receipt). Every message gets two or
    three of these, so they must not load the row."""
    conn = session.connection()
    statement = _DELIVERED if status in ("delivered", "read") else _ADVANCED
    result = conn.execute(statement, {
        "sid": platform_message_id, "receipt": status, "now": now,
        "rank": _RECEIPT_ORDER.get(status, -1), "code": error_code[:64] if error_code else None,
    })
    if result.rowcount:
        return True
    known = conn.execute(_KNOWN_SID, {"sid": platform_message_id}).first()
    return None if known is None else False


def _advance(delivered: bool) -> Update:
    c = _OUTBOX.c
    values: dict[str, object] = {
        "delivery_status": bindparam("receipt"), "updated_at": bindparam("now"),
        "last_error_code": func.coalesce(bindparam("code", type_=String), c.last_error_code),
    }
    if delivered:
        values["payload"] = b""  # delivered: the relay keeps no second copy of the token
        values["delivered_at"] = func.coalesce(c.delivered_at, bindparam("now"))
    return (update(_OUTBOX)
            .where(c.platform_message_id == bindparam("sid"),
                   _receipt_rank(func.coalesce(c.delivery_status, "accepted"))
                   <= bindparam("rank"))
            .values(**values))


# Built once: two or three receipts arrive for every WhatsApp message.
_ADVANCED = _advance(delivered=False)
_DELIVERED = _advance(delivered=True)
_KNOWN_SID = select(_OUTBOX.c.id).where(_OUTBOX.c.platform_message_id == bindparam("sid")).limit(1)


def record_status(
    session: Session, platform_message_id: str, status: str, error_code: str | None,
    now: datetime,
) -> OutboxMessage | None:
    """Apply a delivery-status callback; statuses only move forward."""
    row = session.scalar(
        select(OutboxMessage).where(OutboxMessage.platform_message_id == platform_message_id)
    )
    if row is None:
        return None
    current = _RECEIPT_ORDER.get(row.delivery_status or "accepted", 0)
    if _RECEIPT_ORDER.get(status, -1) >= current:
        row.delivery_status = status
        if status in ("delivered", "read"):
            row.payload = b""  # delivered: the relay keeps no second copy of the token
            row.delivered_at = row.delivered_at or now
        if error_code:
            row.last_error_code = error_code[:64]
        row.updated_at = now
    return row


def stash_receipt(session: Session, platform_message_id: str, status: str,
                  error_code: str | None, now: datetime) -> None:
    """Keep a receipt whose message id is not recorded yet (see :class:`EarlyReceipt`)."""
    session.add(EarlyReceipt(platform_message_id=platform_message_id[:128], status=status[:16],
                             error_code=error_code[:64] if error_code else None,
                             received_at=now))


def take_receipts(session: Session, platform_message_id: str) -> list[tuple[str, str | None]]:
    """Remove and return the stashed receipts of one message id, oldest first."""
    rows = session.execute(
        delete(EarlyReceipt).where(EarlyReceipt.platform_message_id == platform_message_id)
        .returning(EarlyReceipt.id, EarlyReceipt.status, EarlyReceipt.error_code)).all()
    return [(status, code) for _id, status, code in sorted(rows)]


def rows_with_stashed_receipts(session: Session, limit: int = 500) -> list[OutboxMessage]:
    """Sent rows for which a receipt is waiting (stashed before their SID was known)."""
    return list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.platform_message_id.in_(
            select(EarlyReceipt.platform_message_id))).limit(limit)))
