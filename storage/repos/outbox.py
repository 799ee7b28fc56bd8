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

The statements every relayed message runs (enqueue, claim, mark sent, receipts) are
Core, built once with bind parameters: building and coercing a statement per message
cost more than executing it. The rarer outcomes (retry, hold, give up) go through the
unit of work on the row the caller names by id, so several of them in one transaction
see each other.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import (
    Integer,
    Select,
    String,
    Table,
    Update,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from medcrypt.storage.models.media import MediaBlob
from medcrypt.storage.models.outbox import EarlyReceipt, OutboxMessage
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.repos._sql import dialect_insert, insert_ignore, rowcount

#: Rows that block later rows to the same recipient.
_BLOCKING = ("pending", "sending", "held")
_FILE_TYPE = "application/vnd.medcrypt.file"
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_MEDIA: Table = MediaBlob.__table__  # type: ignore[assignment]
_RECEIPTS: Table = EarlyReceipt.__table__  # type: ignore[assignment]
#: Built once (every relayed message runs it; building a statement cost more than running).
_ENQUEUE = insert(_OUTBOX).returning(_OUTBOX.c.id)
_STORE_FILE = insert(_MEDIA)


class Queued(Protocol):
    """What a sender reads of a claimed (or in-doubt) row; the rest stays in the table."""

    @property
    def id(self) -> int: ...
    @property
    def dest_identity_id(self) -> str: ...
    @property
    def origin_identity_id(self) -> str | None: ...
    @property
    def payload_kind(self) -> str: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def media_id(self) -> str | None: ...
    @property
    def filename(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def claimed_until(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class OutboxState:
    """A row's delivery state as the worker decides on it (a snapshot, not a live row)."""

    id: int
    dest_identity_id: str
    origin_identity_id: str | None
    payload_kind: str
    status: str
    attempts: int
    platform_message_id: str | None


@dataclass(frozen=True, slots=True)
class NewFile:
    """A file to keep once in ``media_blobs`` for its outbox row: filed under its pairing
    and epoch when it is relayed (shredding the epoch deletes it), under none for the
    bot's own documents (pruned once delivered)."""

    data: bytes
    pairing_id: str | None = None
    epoch: int | None = None


@dataclass(frozen=True)
class Notice:
    """One PHI-free text for one member of a pairing, queued once by its dedupe key."""

    dest_identity_id: str
    pairing_id: str
    text: str
    dedupe_key: str


def _state(row: OutboxMessage) -> OutboxState:
    return OutboxState(row.id, row.dest_identity_id, row.origin_identity_id, row.payload_kind,
                       row.status, row.attempts, row.platform_message_id)


# -- enqueue ------------------------------------------------------------------------------

def enqueue(
    session: Session, *, recipient_id: str, origin_id: str | None, pairing_id: str | None,
    payload_kind: str, payloads: Sequence[bytes], now: datetime,
    file: NewFile | None = None, filename: str | None = None,
) -> list[int]:
    """Add one ``pending`` row per payload for ``recipient_id``; returns the row ids.

    ``file`` is stored once in ``media_blobs`` and every row points at it.
    """
    media_id: str | None = None
    if session.new or session.dirty or session.deleted:
        session.flush()  # Core below does not autoflush; rows it references must exist
    conn = session.connection()
    if file is not None:
        media_id = secrets.token_hex(16)
        conn.execute(_STORE_FILE, {
            "id": media_id, "pairing_id": file.pairing_id, "epoch": file.epoch,
            "data": file.data, "path": None, "content_type": _FILE_TYPE,
            "size": len(file.data), "url_token_hash": None, "created_at": now,
            "expires_at": None})
    # Core, not the unit of work: this runs for every relayed message.
    return [conn.execute(_ENQUEUE, {
        "dest_identity_id": recipient_id, "origin_identity_id": origin_id,
        "pairing_id": pairing_id, "payload_kind": payload_kind,
        "payload": payload, "media_id": media_id, "filename": filename, "status": "pending",
        "attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now,
    }).scalar_one() for payload in payloads]


def enqueue_deferred(
    session: Session, *, recipient_id: str, payload_kind: str, payload: bytes,
    dedupe_key: str, due: datetime, now: datetime,
) -> bool:
    """Queue one row that waits until ``due`` unless :func:`cancel_deferred` drops it
    first; once by ``dedupe_key`` (True when this call queued it).

    For an action that depends on something *not* happening in time (a paste whose
    rest never came): the decision is made now, and the database holds it, so a
    restart or another replica cannot lose it.
    """
    return insert_ignore(session, _OUTBOX, [{
        "dest_identity_id": recipient_id, "origin_identity_id": None, "pairing_id": None,
        "payload_kind": payload_kind, "payload": payload, "status": "pending",
        "attempts": 0, "next_attempt_at": due, "dedupe_key": dedupe_key,
        "created_at": now, "updated_at": now}]) == 1


def reschedule_deferred(session: Session, dedupe_keys: Sequence[str], due: datetime,
                        now: datetime) -> int:
    """Move the still-pending rows of ``dedupe_keys`` to ``due``; returns how many."""
    return rowcount(session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dedupe_key.in_(list(dedupe_keys)),
               OutboxMessage.status == "pending")
        .values(next_attempt_at=due, updated_at=now)
        .execution_options(synchronize_session=False)))


def cancel_deferred(session: Session, dedupe_keys: Sequence[str]) -> int:
    """Drop the still-pending rows of ``dedupe_keys``; returns how many."""
    return rowcount(session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.dedupe_key.in_(list(dedupe_keys)),
               OutboxMessage.status == "pending")
        .execution_options(synchronize_session=False)))


def queue_notices(session: Session, notices: Sequence[Notice], now: datetime) -> int:
    """Queue notices once each (by dedupe key); returns how many were new.

    ``INSERT ... ON CONFLICT DO NOTHING`` for many rows at once: the unique
    ``dedupe_key`` - not a prior SELECT - decides whether a notice was already queued,
    so two replicas running the same job queue each notice once.
    """
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
    return insert_ignore(session, _OUTBOX, rows) if rows else 0


def queue_member_notices(
    session: Session, pairing_ids: Sequence[str], *, text: str, dedupe_head: str,
    dedupe_middle: str, now: datetime, chunk: int = 1000,
) -> int:
    """Queue ``text`` once to each member of each pairing, set-based; returns how many
    were new. The dedupe key of a notice is ``head + pairing_id + middle + member``,
    built by the database.

    One ``INSERT ... SELECT ... FROM pairings ON CONFLICT DO NOTHING`` per member column
    and chunk: no row crosses into Python and back, which at 100,000 pairings was a fifth
    of the sweep's and rotation's time. ``RETURNING`` counts what was really inserted
    (psycopg reports no rowcount for this statement).
    """
    if not pairing_ids:
        return 0
    base = dialect_insert(session, _OUTBOX)
    cols = ["dest_identity_id", "pairing_id", "payload_kind", "payload", "status", "attempts",
            "next_attempt_at", "dedupe_key", "created_at", "updated_at"]
    stamp = literal(now, _OUTBOX.c.created_at.type)
    payload = literal(text.encode("utf-8"), _OUTBOX.c.payload.type)
    ids = sorted(set(pairing_ids))
    inserted = 0
    for member in (Pairing.physician_id, Pairing.patient_id):
        for start in range(0, len(ids), chunk):
            source = select(
                member, Pairing.pairing_id, literal("notice", String()), payload,
                literal("pending", String()), literal(0, Integer()), stamp,
                literal(dedupe_head, String()) + Pairing.pairing_id
                + literal(dedupe_middle, String()) + member,
                stamp, stamp,
            ).where(Pairing.pairing_id.in_(ids[start:start + chunk]), member.is_not(None))
            stmt = base.from_select(cols, source).on_conflict_do_nothing().returning(
                _OUTBOX.c.id)
            inserted += len(session.execute(stmt).all())
    return inserted


# -- claim ----------------------------------------------------------------------------------

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


# Built once: the worker claims in a loop.
_CLAIM = _claim_query()
#: PostgreSQL: several replicas claim disjoint rows.
_CLAIM_FOR_UPDATE = _CLAIM.with_for_update(skip_locked=True, of=_OUTBOX)
_MARK_CLAIMED = (update(_OUTBOX).where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
                 .values(status="sending", claimed_until=bindparam("until"),
                         claimed_by=bindparam("worker"), attempts=_OUTBOX.c.attempts + 1,
                         updated_at=bindparam("now")))
_IN_DOUBT = (select(*_CLAIMED)
             .where(_OUTBOX.c.status == "sending", _OUTBOX.c.claimed_until < bindparam("now"))
             .order_by(_OUTBOX.c.id).limit(bindparam("limit")))


def claim(
    session: Session, *, now: datetime, lease: timedelta, worker: str, limit: int,
    postgres: bool,
) -> list[Queued]:
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
    return cast(list[Queued], rows)


def in_doubt(session: Session, *, now: datetime, limit: int = 100) -> list[Queued]:
    """Rows whose sender died mid-send: the platform may or may not have them."""
    session.flush()
    rows = session.connection().execute(_IN_DOUBT, {"now": now, "limit": limit}).all()
    return cast(list[Queued], list(rows))


# -- outcomes -------------------------------------------------------------------------------

def get(session: Session, row_id: int) -> OutboxState | None:
    row = session.get(OutboxMessage, row_id)
    return None if row is None else _state(row)


def _sent(row: OutboxMessage, platform_message_id: str, now: datetime) -> None:
    row.status = "sent"
    row.platform_message_id = platform_message_id[:128]
    row.delivery_status = row.delivery_status or "sent"
    row.claimed_until = None
    row.sent_at = now
    row.updated_at = now


def mark_sent(
    session: Session, row_id: int, platform_message_id: str, now: datetime
) -> OutboxState | None:
    """Record the platform's id for a sent row; None when the row is gone."""
    row = session.get(OutboxMessage, row_id)
    if row is None:
        return None
    _sent(row, platform_message_id, now)
    return _state(row)


_MARK_SENT = (update(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id"))
              .values(status="sent", platform_message_id=bindparam("sid"),
                      delivery_status=func.coalesce(_OUTBOX.c.delivery_status, "sent"),
                      claimed_until=None, sent_at=bindparam("now"),
                      updated_at=bindparam("now")))


def mark_sent_many(session: Session, marks: Sequence[tuple[int, str]], now: datetime) -> None:
    """:func:`mark_sent` for many ``(row id, platform message id)`` at once: one
    statement executed for every pair (the send path records a burst of answers)."""
    if not marks:
        return
    session.connection().execute(
        _MARK_SENT, [{"row_id": row_id, "sid": sid[:128], "now": now} for row_id, sid in marks])


def mark_dead_by_id(session: Session, row_id: int, error_code: str, now: datetime) -> None:
    """Give up on a claimed row the caller holds only by id (no recipient, file gone)."""
    session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(
        status="failed", delivery_status="failed", last_error_code=error_code[:64],
        claimed_until=None, updated_at=now).execution_options(synchronize_session=False))


def mark_retry(session: Session, row_id: int, at: datetime, error_code: str, now: datetime,
               *, refund_attempt: bool = False) -> None:
    """Due again at ``at``; ``refund_attempt`` when the platform, not the message, failed
    (flood control is not a failed attempt)."""
    row = session.get(OutboxMessage, row_id)
    if row is None:
        return
    row.status = "pending"
    row.next_attempt_at = at
    row.last_error_code = error_code[:64]
    row.claimed_until = None
    row.updated_at = now
    if refund_attempt:
        row.attempts = max(0, row.attempts - 1)


def mark_dead(session: Session, row_id: int, error_code: str, now: datetime) -> None:
    """Give up on a row (permanent error or last attempt): status ``failed``."""
    row = session.get(OutboxMessage, row_id)
    if row is None:
        return
    row.status = "failed"
    row.delivery_status = "failed"
    row.last_error_code = error_code[:64]
    row.claimed_until = None
    row.updated_at = now


def mark_failed_after_send(session: Session, row_id: int) -> None:
    """A row the platform accepted and then reported undeliverable: status ``failed``
    (its receipt already set the delivery status)."""
    row = session.get(OutboxMessage, row_id)
    if row is not None:
        row.status = "failed"


def hold(session: Session, row_id: int, error_code: str, now: datetime) -> None:
    """Park a row until the recipient writes again (WhatsApp window closed)."""
    row = session.get(OutboxMessage, row_id)
    if row is None:
        return
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
    return rowcount(result)


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


def drop_queued_for(session: Session, recipient_id: str) -> int:
    """Delete every row still waiting for ``recipient_id`` (erasure); returns the count."""
    return rowcount(session.execute(
        delete(OutboxMessage).where(OutboxMessage.dest_identity_id == recipient_id,
                                    OutboxMessage.status.in_(_BLOCKING))))


# -- delivery receipts ----------------------------------------------------------------------

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
) -> OutboxState | None:
    """Apply a delivery-status callback; statuses only move forward. None when no row
    carries ``platform_message_id``."""
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
    return _state(row)


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


def rows_with_stashed_receipts(session: Session, limit: int = 500) -> list[OutboxState]:
    """Sent rows for which a receipt is waiting (stashed before their SID was known)."""
    return [_state(row) for row in session.scalars(
        select(OutboxMessage).where(OutboxMessage.platform_message_id.in_(
            select(EarlyReceipt.platform_message_id))).limit(limit))]


# -- expiry ---------------------------------------------------------------------------------

def purge_receipts(session: Session, *, older_than: datetime) -> int:
    """Drop stashed receipts no sent message claimed in time; returns how many."""
    return rowcount(session.execute(
        delete(EarlyReceipt).where(EarlyReceipt.received_at < older_than)
        .execution_options(synchronize_session=False)))


def clear_sent_payloads(session: Session, *, older_than: datetime) -> int:
    """Empty the payload of finished rows last touched before ``older_than``."""
    return rowcount(session.execute(
        update(OutboxMessage).where(OutboxMessage.status.in_(("sent", "failed")),
                                    OutboxMessage.payload != b"",
                                    OutboxMessage.updated_at < older_than)
        .values(payload=b"").execution_options(synchronize_session=False)))


def status_counts(session: Session) -> dict[str, int]:
    """Rows per status (``/stats``)."""
    return {str(k): int(v) for k, v in session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()}


#: Rows still to be delivered: the outbox backlog (``/metrics``).
_BACKLOG = ("pending", "sending", "held")


def backlog(session: Session) -> tuple[int, datetime | None]:
    """How many rows still wait to be delivered, and when the oldest was queued."""
    count, oldest = session.execute(
        select(func.count(), func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status.in_(_BACKLOG))).one()
    return int(count), oldest
