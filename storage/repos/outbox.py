"""Outbox rows: enqueue (inside the inbound transaction), claim, and record outcomes.

Ordering: per recipient, rows go out strictly in id order - a row is claimable only when
it is the lowest-id row of its recipient that is still pending, sending or held. That keeps the
parts of a long token in order and makes a Telegram 429 (``retry_after``) or a closed
WhatsApp window delay exactly one chat: its head row waits, every other chat's head row
stays claimable. The PHI-free WhatsApp template is exempt, so it can overtake the
message it announces.

Claiming reads each recipient's head from ``outbox_heads`` (kept in the same
transaction by every function here on PostgreSQL and by triggers on SQLite,
:mod:`storage.repos.outbox_heads`, ADR 0024), so
its cost per row does not grow with the backlog. On PostgreSQL ``FOR UPDATE SKIP
LOCKED`` lets several bot replicas claim disjoint rows; on SQLite (one writer at a time)
the claim runs in one ``BEGIN`` transaction. Either way the claimed row becomes
``sending`` with a lease in ``claimed_until`` (on PostgreSQL by the server's clock); a
worker that dies mid-send leaves a row whose lease expires, and :func:`in_doubt` hands
it to recovery (see docs/DELIVERY.md for the exactly-once argument). Every outcome names
its :class:`Claim`, so a worker whose claim was superseded changes nothing.

The statements every relayed message runs (enqueue, claim, mark sent, receipts) are
Core, built once with bind parameters: building and coercing a statement per message
cost more than executing it. The rarer outcomes (retry, hold, give up) go through the
unit of work on the row the caller names by id, so several of them in one transaction
see each other.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import (
    Integer,
    Interval,
    String,
    Table,
    Update,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.media import MediaBlob
from medcrypt.storage.models.outbox import EarlyReceipt, OutboxHead, OutboxMessage
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.repos import outbox_heads as heads
from medcrypt.storage.repos._sql import CHUNK, dialect_insert, rowcount

#: Rows that block later rows to the same recipient.
_BLOCKING = ("pending", "sending", "held")
_FILE_TYPE = "application/vnd.medcrypt.file"
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_MEDIA: Table = MediaBlob.__table__  # type: ignore[assignment]
_RECEIPTS: Table = EarlyReceipt.__table__  # type: ignore[assignment]
_HEADS: Table = OutboxHead.__table__  # type: ignore[assignment]
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
    @property
    def claimed_by(self) -> str | None: ...
    @property
    def attempts(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Claim:
    """Who holds a ``sending`` row, as the claim left it: the fence of every outcome.

    ``attempts`` moves on with every claim, so a worker whose claim expired and was
    claimed again (by another replica, or by itself after recovery) no longer matches,
    and its late outcome changes nothing (:func:`get_claimed`, :func:`mark_sent_many`).
    """

    row_id: int
    dest_identity_id: str
    worker: str
    attempts: int


def claim_of(row: Queued) -> Claim:
    """The fence of a claimed or in-doubt row as read with it."""
    return Claim(int(row.id), row.dest_identity_id, row.claimed_by or "", int(row.attempts))


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
    ids = [conn.execute(_ENQUEUE, {
        "dest_identity_id": recipient_id, "origin_identity_id": origin_id,
        "pairing_id": pairing_id, "payload_kind": payload_kind,
        "payload": payload, "media_id": media_id, "filename": filename, "status": "pending",
        "attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now,
    }).scalar_one() for payload in payloads]
    if ids and payload_kind != "template":
        heads.note_enqueued(conn, recipient_id, ids[0], now)
    return ids


def _insert_ignore(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert outbox rows skipping dedupe-key conflicts, and give each recipient its
    head; returns the ids really inserted (``RETURNING``: psycopg reports no rowcount
    for ``ON CONFLICT DO NOTHING``)."""
    if not rows:
        return []
    stmt = dialect_insert(session, _OUTBOX).on_conflict_do_nothing().returning(_OUTBOX.c.id)
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK):
        ids.extend(int(i) for i in session.execute(stmt, list(rows[start:start + CHUNK]))
                   .scalars())
    heads.note_enqueued_rows(session, ids)
    return ids


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
    return len(_insert_ignore(session, [{
        "dest_identity_id": recipient_id, "origin_identity_id": None, "pairing_id": None,
        "payload_kind": payload_kind, "payload": payload, "status": "pending",
        "attempts": 0, "next_attempt_at": due, "dedupe_key": dedupe_key,
        "created_at": now, "updated_at": now}])) == 1


def reschedule_deferred(session: Session, dedupe_keys: Sequence[str], due: datetime,
                        now: datetime) -> int:
    """Move the still-pending rows of ``dedupe_keys`` to ``due``; returns how many."""
    moved = session.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.dedupe_key.in_(list(dedupe_keys)), _OUTBOX.c.status == "pending")
        .values(next_attempt_at=due, updated_at=now)
        .returning(_OUTBOX.c.dest_identity_id)).scalars().all()
    heads.changed(session, moved)
    return len(moved)


def cancel_deferred(session: Session, dedupe_keys: Sequence[str]) -> int:
    """Drop the still-pending rows of ``dedupe_keys``; returns how many."""
    dropped = session.execute(
        delete(_OUTBOX)
        .where(_OUTBOX.c.dedupe_key.in_(list(dedupe_keys)), _OUTBOX.c.status == "pending")
        .returning(_OUTBOX.c.dest_identity_id)).scalars().all()
    heads.changed(session, dropped)
    return len(dropped)


def queue_notices(session: Session, notices: Sequence[Notice], now: datetime) -> int:
    """Queue notices once each (by dedupe key); returns how many were new.

    ``INSERT ... ON CONFLICT DO NOTHING`` for many rows at once: the unique
    ``dedupe_key`` - not a prior SELECT - decides whether a notice was already queued,
    so two replicas running the same job queue each notice once.
    """
    return len(_insert_ignore(session, [
        {
            "dest_identity_id": n.dest_identity_id, "origin_identity_id": None,
            "pairing_id": n.pairing_id, "payload_kind": "notice",
            "payload": n.text.encode("utf-8"), "status": "pending", "attempts": 0,
            "next_attempt_at": now, "dedupe_key": n.dedupe_key, "created_at": now,
            "updated_at": now,
        }
        for n in notices
    ]))


def queue_member_notices(
    session: Session, pairing_ids: Sequence[str], *, text: str, dedupe_head: str,
    dedupe_middle: str, now: datetime, chunk: int = 1000,
    by_language: Mapping[str, str] | None = None, default_language: str = "en",
) -> int:
    """Queue ``text`` once to each member of each pairing, set-based; returns how many
    were new. The dedupe key of a notice is ``head + pairing_id + middle + member``,
    built by the database.

    ``by_language``: the notice in other languages; each member gets the one of their
    stored language (``platform_identities.language``, NULL: ``default_language``), and
    ``text`` when their language is not listed. The choice is a ``CASE`` in the same
    statement: scheduled notices have no inbound update to read a language from.

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

    def encoded(value: str) -> Any:
        return literal(value.encode("utf-8"), _OUTBOX.c.payload.type)

    ids = sorted(set(pairing_ids))
    inserted = 0
    for member in (Pairing.physician_id, Pairing.patient_id):
        payload: Any = encoded(text)
        if by_language:
            language = func.coalesce(PlatformIdentity.language, default_language)
            payload = case({lang: encoded(value) for lang, value in by_language.items()},
                           value=language, else_=payload)
        for start in range(0, len(ids), chunk):
            source = select(
                member, Pairing.pairing_id, literal("notice", String()), payload,
                literal("pending", String()), literal(0, Integer()), stamp,
                literal(dedupe_head, String()) + Pairing.pairing_id
                + literal(dedupe_middle, String()) + member,
                stamp, stamp,
            ).where(Pairing.pairing_id.in_(ids[start:start + chunk]), member.is_not(None))
            if by_language:
                source = source.outerjoin(PlatformIdentity, PlatformIdentity.id == member)
            stmt = base.from_select(cols, source).on_conflict_do_nothing().returning(
                _OUTBOX.c.id)
            new = [int(i) for i in session.execute(stmt).scalars()]
            heads.note_enqueued_rows(session, new)
            inserted += len(new)
    return inserted


# -- claim ----------------------------------------------------------------------------------

#: What the worker reads of a claimed row (the rest stays in the table).
_CLAIMED = (_OUTBOX.c.id, _OUTBOX.c.dest_identity_id, _OUTBOX.c.origin_identity_id,
            _OUTBOX.c.payload_kind, _OUTBOX.c.payload, _OUTBOX.c.media_id,
            _OUTBOX.c.filename, _OUTBOX.c.created_at, _OUTBOX.c.claimed_until,
            _OUTBOX.c.claimed_by, _OUTBOX.c.attempts)


def _lease_end(postgres: bool) -> Any:
    """When a claim made now ends. PostgreSQL: the server's clock, so replicas whose
    clocks disagree still agree on whose claim has expired. SQLite has one writing
    process on one host, whose clock (injected, so tests can move it) is the database's."""
    if postgres:
        return func.clock_timestamp() + bindparam("lease", type_=Interval())
    return bindparam("until", type_=_OUTBOX.c.claimed_until.type)


def _claim_statements(postgres: bool) -> dict[str, Any]:
    """The claim's statements for one backend, built once (the worker claims in a loop).

    ``heads``: the due heads in (due_at, head_id) order - an index range, however long
    the backlog behind them. ``templates``: due WhatsApp templates (partial index; they
    may overtake the message they announce, so they have no head). ``take``: the rows,
    re-checked (still pending, still due) and marked ``sending`` in one UPDATE that
    returns what the sender needs. On PostgreSQL every read is ``FOR UPDATE SKIP
    LOCKED``: replicas claim disjoint heads and never wait for each other.
    """
    h, c = _HEADS.c, _OUTBOX.c
    due_heads = (select(h.dest_identity_id, h.head_id)
                 .where(h.due_at <= bindparam("now"))
                 .order_by(h.due_at, h.head_id).limit(bindparam("limit")))
    templates: Any = (select(c.id)
                 .where(c.status == literal_column("'pending'"),
                        c.payload_kind == literal_column("'template'"),
                        c.next_attempt_at <= bindparam("now"))
                 .order_by(c.next_attempt_at, c.id).limit(bindparam("limit")))
    claimable = (c.id.in_(bindparam("ids", expanding=True)), c.status == "pending",
                 c.next_attempt_at <= bindparam("now"))
    where: Any
    if postgres:
        due_heads = due_heads.with_for_update(skip_locked=True)
        templates = templates.with_for_update(skip_locked=True)
        where = c.id.in_(select(c.id).where(*claimable).with_for_update(skip_locked=True)
                         .scalar_subquery())
    else:
        # SQLite's planner, given statistics, preferred the (status, next_attempt_at)
        # index - a scan of every pending row - over both the partial index and the ids:
        # the templates name their index, and the claim's re-check is written with
        # SQLite's unary "+", which keeps a term from choosing an index.
        templates = text(
            "SELECT id FROM outbox INDEXED BY ix_outbox_templates_due "
            "WHERE status = 'pending' AND payload_kind = 'template' "
            "AND next_attempt_at <= :now ORDER BY next_attempt_at, id LIMIT :limit",
        ).bindparams(bindparam("now", type_=c.next_attempt_at.type))
        where = and_(claimable[0],
                     literal_column("+outbox.status", String()) == "pending",
                     literal_column("+outbox.next_attempt_at", c.next_attempt_at.type)
                     <= bindparam("now"))
    take = (update(_OUTBOX).where(where)
            .values(status="sending", claimed_until=_lease_end(postgres),
                    claimed_by=bindparam("worker"), attempts=c.attempts + 1,
                    updated_at=bindparam("now"))
            .returning(*_CLAIMED))
    busy = (update(_HEADS).where(h.dest_identity_id.in_(bindparam("dests", expanding=True)))
            .values(due_at=None))
    return {"heads": due_heads, "templates": templates, "take": take, "busy": busy}


_CLAIM_SQL = {True: _claim_statements(True), False: _claim_statements(False)}


def _in_doubt(postgres: bool) -> Any:
    expired = (_OUTBOX.c.claimed_until < func.clock_timestamp() if postgres
               else _OUTBOX.c.claimed_until < bindparam("now"))
    return (select(*_CLAIMED).where(_OUTBOX.c.status == "sending", expired)
            .order_by(_OUTBOX.c.id).limit(bindparam("limit")))


_IN_DOUBT = {True: _in_doubt(True), False: _in_doubt(False)}


def claim(
    session: Session, *, now: datetime, lease: timedelta, worker: str, limit: int,
    postgres: bool,
) -> list[Queued]:
    """Claim up to ``limit`` due rows - templates first, then recipients' heads - and
    mark them ``sending`` for ``worker``; the caller commits.

    Per row this costs index probes only: the heads table holds one row per waiting
    recipient, not one per waiting message (ADR 0024). A head whose row turns out not
    to be claimable (deleted by a cascade, changed since) is recomputed on the spot.
    """
    conn = session.connection()
    sql = _CLAIM_SQL[postgres]
    params = {"now": now, "limit": limit}
    ids = [int(i) for i in conn.execute(sql["templates"], params).scalars()]
    due = [] if len(ids) >= limit else conn.execute(
        sql["heads"], {"now": now, "limit": limit - len(ids)}).all()
    ids += [int(head_id) for _dest, head_id in due]
    if not ids:
        return []
    taken = {r.id: r for r in conn.execute(sql["take"], {
        "ids": ids, "now": now, "worker": worker, "lease": lease, "until": now + lease})}
    dests = {str(d) for d, head_id in due if head_id in taken}
    if dests and not heads.kept_by_triggers(conn):  # SQLite's trigger nulled them
        conn.execute(sql["busy"], {"dests": sorted(dests)})
    stale = {str(d) for d, head_id in due if head_id not in taken}
    if stale:
        heads.refresh(conn, stale)
    return cast(list[Queued], [taken[i] for i in ids if i in taken])


def in_doubt(session: Session, *, now: datetime, limit: int = 100,
             postgres: bool = False) -> list[Queued]:
    """Rows whose claim expired mid-send (on PostgreSQL by the server's clock): the
    platform may or may not have them."""
    session.flush()
    rows = session.connection().execute(_IN_DOUBT[postgres], {"now": now, "limit": limit})
    return cast(list[Queued], list(rows.all()))


# -- outcomes -------------------------------------------------------------------------------
# Every outcome names the claim it is the outcome of (:class:`Claim`). A worker whose
# claim expired and was superseded finds nothing to update: the newer claim's outcome
# stands. Each outcome recomputes the recipient's head in the same transaction.

def _fence(c: Any) -> Any:
    return ((c.id == bindparam("row_id")) & (c.status == "sending")
            & (c.claimed_by == bindparam("worker")) & (c.attempts == bindparam("attempt")))


_GET_CLAIMED = select(OutboxMessage).where(_fence(OutboxMessage)).with_for_update()


def get(session: Session, row_id: int) -> OutboxState | None:
    row = session.get(OutboxMessage, row_id)
    return None if row is None else _state(row)


def get_claimed(session: Session, claim: Claim) -> OutboxState | None:
    """The row if ``claim`` still holds it (locked for the rest of the transaction on
    PostgreSQL); None when it is gone or another claim superseded this one."""
    row = session.scalars(_GET_CLAIMED, {"row_id": claim.row_id, "worker": claim.worker,
                                         "attempt": claim.attempts}).first()
    return None if row is None else _state(row)


def _sent(row: OutboxMessage, platform_message_id: str, now: datetime) -> None:
    row.status = "sent"
    row.platform_message_id = platform_message_id[:128]
    row.delivery_status = row.delivery_status or "sent"
    row.claimed_until = None
    row.sent_at = now
    row.updated_at = now


def mark_sent(
    session: Session, claim: Claim, platform_message_id: str, now: datetime
) -> OutboxState | None:
    """Record the platform's id for a sent row; None when ``claim`` no longer holds it."""
    if get_claimed(session, claim) is None:
        return None
    row = session.get(OutboxMessage, claim.row_id)
    assert row is not None  # locked by get_claimed
    _sent(row, platform_message_id, now)
    session.flush()
    heads.changed(session, [row.dest_identity_id])
    return _state(row)


_MARK_SENT = (update(_OUTBOX).where(_fence(_OUTBOX.c))
              .values(status="sent", platform_message_id=bindparam("sid"),
                      delivery_status=func.coalesce(_OUTBOX.c.delivery_status, "sent"),
                      claimed_until=None, sent_at=bindparam("now"),
                      updated_at=bindparam("now")))


def mark_sent_many(session: Session, marks: Sequence[tuple[Claim, str]], now: datetime) -> int:
    """:func:`mark_sent` for many ``(claim, platform message id)`` at once: one statement
    executed for every pair (the send path records a burst of answers). Returns how
    many were recorded: fewer than given when a claim was superseded."""
    if not marks:
        return 0
    conn = session.connection()
    done = rowcount(conn.execute(_MARK_SENT, [
        {"row_id": c.row_id, "worker": c.worker, "attempt": c.attempts, "sid": sid[:128],
         "now": now} for c, sid in marks]))
    heads.changed(conn, [c.dest_identity_id for c, _sid in marks])
    return done


def mark_dead_by_id(session: Session, row_id: int, error_code: str, now: datetime) -> None:
    """Give up on a row claimed in this same transaction (no recipient, file gone)."""
    dest = session.execute(update(_OUTBOX).where(_OUTBOX.c.id == row_id).values(
        status="failed", delivery_status="failed", last_error_code=error_code[:64],
        claimed_until=None, updated_at=now).returning(_OUTBOX.c.dest_identity_id)).scalar()
    if dest is not None:
        heads.changed(session, [dest])


def _changed(session: Session, row: OutboxMessage) -> None:
    session.flush()
    heads.changed(session, [row.dest_identity_id])


def mark_retry(session: Session, row_id: int, at: datetime, error_code: str, now: datetime,
               *, refund_attempt: bool = False) -> None:
    """Due again at ``at``; ``refund_attempt`` when the platform, not the message, failed
    (flood control is not a failed attempt). The caller holds the claim
    (:func:`get_claimed`)."""
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
    _changed(session, row)


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
    _changed(session, row)


def mark_failed_after_send(session: Session, row_id: int) -> None:
    """A row the platform accepted and then reported undeliverable: status ``failed``
    (its receipt already set the delivery status)."""
    row = session.get(OutboxMessage, row_id)
    if row is not None:
        row.status = "failed"
        _changed(session, row)


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
    _changed(session, row)


def release_held(session: Session, recipient_id: str, now: datetime) -> int:
    """The recipient wrote to us: everything held for them becomes due now."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dest_identity_id == recipient_id, heads.blocking(OutboxMessage),
               OutboxMessage.status == "held")
        .values(status="pending", next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    released = rowcount(result)
    if released:
        heads.changed(session, [recipient_id])
    return released


def delay_recipient(session: Session, recipient_id: str, until: datetime, now: datetime) -> None:
    """Honour a per-chat ``retry_after``: push every due row of this recipient back."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.dest_identity_id == recipient_id, heads.blocking(OutboxMessage),
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at < until,
        )
        .values(next_attempt_at=until, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    heads.changed(session, [recipient_id])


def drop_queued_for(session: Session, recipient_id: str) -> int:
    """Delete every row still waiting for ``recipient_id`` (erasure); returns the count."""
    dropped = rowcount(session.execute(
        delete(OutboxMessage).where(OutboxMessage.dest_identity_id == recipient_id,
                                    heads.blocking(OutboxMessage))))
    heads.changed(session, [recipient_id])
    return dropped


def repair_heads(session: Session) -> int:
    """The sweep behind the heads (:func:`storage.repos.outbox_heads.repair`)."""
    return heads.repair(session)


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
