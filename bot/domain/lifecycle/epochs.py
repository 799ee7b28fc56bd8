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

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from medcrypt.bot.domain.lifecycle import notices
from medcrypt.bot.domain.lifecycle.purge import Target, purge
from medcrypt.bot.domain.lifecycle.queue import queue_member_notices
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.server.audit import Action
from medcrypt.storage.audit import AuditEvent
from medcrypt.storage.models.epochs import Epoch
from medcrypt.storage.models.pairings import Pairing

EPOCHS: Table = Epoch.__table__  # type: ignore[assignment]
NoticeText = Callable[[int, datetime], str]
#: Pairing ids per claiming UPDATE (bound parameters stay well under SQLite's limit).
CLAIM_CHUNK = 500


def _by_epoch(targets: Iterable[Target]) -> dict[int, list[str]]:
    """epoch → sorted distinct pairing ids: the claims and notices go one epoch at a time,
    so each statement is ``epoch = ? AND pairing_id IN (...)`` on the unique index."""
    grouped: dict[int, set[str]] = {}
    for pairing_id, epoch in targets:
        grouped.setdefault(epoch, set()).add(pairing_id)
    return {epoch: sorted(ids) for epoch, ids in grouped.items()}


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
    ctx: Services, session: Session, *, before_epoch: int, now: datetime, actor: str,
    pairing_ids: Sequence[str] | None = None, audit_events: list[AuditEvent] | None = None,
) -> list[Target]:
    """Retire every ``active`` epoch older than ``before_epoch`` (optionally of some pairings).

    The audit entries are appended here, or added to ``audit_events`` for the caller to
    append together with its own (one chain lock and key load per batch, not two).
    """
    # Per batch of pairings the (pairing_id, epoch) key must drive the search: offered
    # ``state = 'active'``, SQLite picks ix_epochs_state_epoch and walks every active
    # epoch of the table for each batch; ``state || ''`` keeps that index out of it.
    state = EPOCHS.c.state if pairing_ids is None else EPOCHS.c.state.concat("")
    stmt: Any = (
        update(EPOCHS)
        .where(state == "active", EPOCHS.c.epoch < before_epoch)
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
    ctx: Services, session: Session, targets: Sequence[Target], *, now: datetime,
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
    for epoch, pairing_ids in sorted(_by_epoch(targets).items()):
        for start in range(0, len(pairing_ids), CLAIM_CHUNK):
            stmt: Any = (
                update(EPOCHS)
                .where(EPOCHS.c.epoch == epoch,
                       EPOCHS.c.pairing_id.in_(pairing_ids[start:start + CLAIM_CHUNK]),
                       EPOCHS.c.state != "shredded")
                .values(state="shredded", shredded_at=now)
                .returning(EPOCHS.c.pairing_id)
            )
            claimed.extend((str(p), epoch) for p in session.scalars(stmt))
    if not claimed:
        return [], counts
    claimed.sort()
    purged = purge(session, claimed, lambda: members_of(session, [p for p, _ in claimed]))
    counts["epochs"] = len(claimed)
    counts.update(purged.total())
    if notice is not None:
        counts["notices"] = sum(
            queue_member_notices(session, "shredded", epoch, pids,
                                 text=notice(epoch, now), now=now)
            for epoch, pids in sorted(_by_epoch(claimed).items()))
    events = []
    for pid, epoch in claimed:
        per = purged.per_target.get((pid, epoch), Counter())
        details: dict[str, str | int | bool | list[str | int | bool | None] | None] = {
            "epoch": epoch, "reason": reason}
        details.update({k: int(v) for k, v in sorted(per.items())})
        events.append(AuditEvent(actor, Action.EPOCH_SHREDDED, ctx.pairing_ref(pid), details))
    ctx.audit.append_many(events, session=session)
    return claimed, counts
