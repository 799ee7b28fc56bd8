"""The epoch state machine's writes: retire (grace starts) and shred (everything deleted).

Two audited steps, as in Vault Transit (raise ``min_decryption_version``, then trim):
retiring only changes state - the epoch is still relayed until its grace ends - and
shredding deletes every stored row of the epoch and marks it ``shredded`` in the same
transaction. Both claim their rows with an ``UPDATE ... WHERE state <> target
RETURNING``: the database decides which process did the work, so concurrent runs never
audit or notify twice, and the UPDATE as first statement takes SQLite's write lock
before anything is read (no SQLITE_BUSY on lock upgrade).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, select, tuple_, update
from sqlalchemy.orm import Session

from bot.jobs import notices
from bot.jobs.context import JobContext
from bot.jobs.purge import Target, purge
from bot.jobs.queue import Notice, queue_notices
from crypto.audit import Action
from storage.audit import AuditEvent
from storage.models.epochs import Epoch
from storage.models.pairings import Pairing

EPOCHS: Table = Epoch.__table__  # type: ignore[assignment]
NoticeText = Callable[[int, datetime], str]


def members_of(session: Session, pairing_ids: Sequence[str]) -> dict[str, list[str]]:
    """pairing id → identity ids of its physician and (if any) patient."""
    out: dict[str, list[str]] = {}
    ids = sorted(set(pairing_ids))
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Pairing.pairing_id, Pairing.physician_id, Pairing.patient_id)
            .where(Pairing.pairing_id.in_(ids[start:start + 500]))
        ).all()
        for pid, physician, patient in rows:
            out[pid] = [m for m in (physician, patient) if m]
    return out


def retire(
    ctx: JobContext, session: Session, *, before_epoch: int, now: datetime, actor: str,
    pairing_ids: Sequence[str] | None = None, audit_events: list[AuditEvent] | None = None,
) -> list[Target]:
    """Retire every ``active`` epoch older than ``before_epoch`` (optionally of some pairings).

    The audit entries are appended here, or added to ``audit_events`` for the caller to
    append together with its own (one chain lock and key load per batch, not two).
    """
    stmt: Any = (
        update(EPOCHS)
        .where(EPOCHS.c.state == "active", EPOCHS.c.epoch < before_epoch)
        .values(state="retired", retired_at=now)
        .returning(EPOCHS.c.pairing_id, EPOCHS.c.epoch)
    )
    if pairing_ids is not None:
        stmt = stmt.where(EPOCHS.c.pairing_id.in_(list(pairing_ids)))
    retired = [(str(p), int(e)) for p, e in session.execute(stmt).all()]
    events = [AuditEvent(actor, Action.EPOCH_RETIRED, ctx.pairing_ref(p), {"epoch": e})
              for p, e in retired]
    if audit_events is not None:
        audit_events.extend(events)
    elif events:
        ctx.audit.append_many(events, session=session)
    return retired


def shred(
    ctx: JobContext, session: Session, targets: Sequence[Target], *, now: datetime,
    actor: str, reason: str, notice: NoticeText | None = notices.shredded,
) -> tuple[list[Target], Counter[str]]:
    """Shred ``targets`` (pairing, epoch) that are not shredded yet; returns (done, counts).

    Each target is all-or-nothing with the caller's transaction: state, deletions,
    notices and audit entries commit together, so a crash leaves either the whole
    epoch shredded or none of it, and the next run finishes the job.
    """
    counts: Counter[str] = Counter()
    if not targets:
        return [], counts
    claimed: list[Target] = []
    wanted = sorted(set(targets))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        stmt: Any = (
            update(EPOCHS)
            .where(and_(tuple_(EPOCHS.c.pairing_id, EPOCHS.c.epoch).in_(chunk),
                        EPOCHS.c.state != "shredded"))
            .values(state="shredded", shredded_at=now)
            .returning(EPOCHS.c.pairing_id, EPOCHS.c.epoch)
        )
        claimed.extend((str(p), int(e)) for p, e in session.execute(stmt).all())
    if not claimed:
        return [], counts
    claimed.sort()
    members = members_of(session, [p for p, _ in claimed])
    purged = purge(session, claimed, members)
    counts["epochs"] = len(claimed)
    counts.update(purged.total())
    if notice is not None:
        text = functools.cache(lambda epoch: notice(epoch, now))
        counts["notices"] = queue_notices(session, [
            Notice(m, pid, text(epoch), notices.dedupe_key("shredded", pid, epoch, m))
            for pid, epoch in claimed for m in members.get(pid, [])
        ], now)
    events = []
    for pid, epoch in claimed:
        per = purged.per_target.get((pid, epoch), Counter())
        details: dict[str, str | int | bool | list[str | int | bool | None] | None] = {
            "epoch": epoch, "reason": reason}
        details.update({k: int(v) for k, v in sorted(per.items())})
        events.append(AuditEvent(actor, Action.EPOCH_SHREDDED, ctx.pairing_ref(pid), details))
    ctx.audit.append_many(events, session=session)
    return claimed, counts
