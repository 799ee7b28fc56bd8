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
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from medcrypt.bot.domain.lifecycle import notices
from medcrypt.bot.domain.lifecycle.purge import Target, purge
from medcrypt.bot.domain.lifecycle.queue import queue_member_notices
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.server.audit import Action
from medcrypt.storage.audit import AuditEvent, to_us
from medcrypt.storage.backup.erasure_record import ErasureFact
from medcrypt.storage.db import Session
from medcrypt.storage.repos import epochs as epoch_rows
from medcrypt.storage.repos import pairings as pairing_rows

NoticeText = Callable[[int, datetime], Mapping[str, str]]


def _by_epoch(targets: Iterable[Target]) -> dict[int, list[str]]:
    """epoch → sorted distinct pairing ids: the claims and notices go one epoch at a time,
    so each statement is ``epoch = ? AND pairing_id IN (...)`` on the unique index."""
    grouped: dict[int, set[str]] = {}
    for pairing_id, epoch in targets:
        grouped.setdefault(epoch, set()).add(pairing_id)
    return {epoch: sorted(ids) for epoch, ids in grouped.items()}


def members_of(session: Session, pairing_ids: Sequence[str]) -> dict[str, list[str]]:
    """pairing id → identity ids of its physician and (if any) patient."""
    return pairing_rows.members_of(session, pairing_ids)


def retire(
    ctx: Services, session: Session, *, before_epoch: int, now: datetime, actor: str,
    pairing_ids: Sequence[str] | None = None, audit_events: list[AuditEvent] | None = None,
) -> list[Target]:
    """Retire every ``active`` epoch older than ``before_epoch`` (optionally of some pairings).

    The audit entries are appended here, or added to ``audit_events`` for the caller to
    append together with its own (one chain lock and key load per batch, not two).
    """
    retired = epoch_rows.retire_before(session, before_epoch=before_epoch, now=now,
                                       pairing_ids=pairing_ids)
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
        claimed.extend((p, epoch) for p in epoch_rows.claim_shred(session, epoch, pairing_ids,
                                                                  now=now))
    if not claimed:
        return [], counts
    claimed.sort()
    at_us = to_us(now)
    ctx.record_erasure([ErasureFact(at_us, "shred", ctx.pairing_ref(p), e) for p, e in claimed])
    purged = purge(session, claimed, lambda: members_of(session, [p for p, _ in claimed]))
    counts["epochs"] = len(claimed)
    counts.update(purged.total())
    if notice is not None:
        counts["notices"] = sum(
            queue_member_notices(session, "shredded", epoch, pids,
                                 text=notice(epoch, now), now=now,
                                 default_language=ctx.settings.clinic.default_language)
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
