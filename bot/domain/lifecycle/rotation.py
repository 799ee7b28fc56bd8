"""Monthly rotation, bot side: epoch rows, retirement of the previous month, notices, audit.

Keys rotate on the companions by the calendar; the bot records it. For the current
month every active pairing gets its epoch row through ``INSERT ... SELECT ... ON
CONFLICT DO NOTHING RETURNING`` - the (pairing_id, epoch) unique constraint, not a
prior check, decides who created it, and only the creator queues the two notices and
the audit entry, so two runs (or two replicas) give one row, one notice per member,
one entry. Pairings are walked by primary key in batches, each its own transaction,
so 100,000 pairings never hold a lock for long and an interrupted run resumes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from medcrypt.bot.domain.lifecycle import notices
from medcrypt.bot.domain.lifecycle.epochs import retire
from medcrypt.bot.domain.lifecycle.queue import queue_member_notices
from medcrypt.bot.domain.services import SCHEDULER_REF, Progress, Services
from medcrypt.crypto.keyless.epochs import epoch_of, epoch_start, grace_end
from medcrypt.crypto.server.audit import Action
from medcrypt.storage.audit import AuditEvent
from medcrypt.storage.db import Session
from medcrypt.storage.repos import epochs as epoch_rows
from medcrypt.storage.repos import pairings as pairing_rows
from medcrypt.storage.repos.pairings import ActivePairing

BATCH = 1000


@dataclass
class RotationResult:
    epoch: int
    pairings: int = 0
    epochs_created: int = 0
    epochs_retired: int = 0
    notices_queued: int = 0

    def summary(self) -> dict[str, int]:
        return {"epoch": self.epoch, "pairings": self.pairings,
                "epochs_created": self.epochs_created, "epochs_retired": self.epochs_retired,
                "notices_queued": self.notices_queued}


def _insert_epochs(session: Session, ids: list[str], epoch: int) -> list[str]:
    """Create the epoch row for each still-active pairing of ``ids``; return the created."""
    return epoch_rows.create_for_month(session, ids, epoch, started_at=epoch_start(epoch))


def _rotate_page(
    ctx: Services, session: Session, page: list[ActivePairing], *, epoch: int, now: datetime,
    actor: str, text: Callable[[int], Mapping[str, str]],
) -> tuple[list[str], int, int]:
    """One batch, in the caller's transaction: (created pairing ids, retired, notices)."""
    info = {r.pairing_id: r for r in page}
    created = _insert_epochs(session, list(info), epoch)
    events: list[AuditEvent] = []
    retired = retire(ctx, session, before_epoch=epoch, now=now, actor=actor,
                     pairing_ids=list(info), audit_events=events)
    by_grace: dict[int, list[str]] = {}
    for pid in created:
        if info[pid].start_epoch < epoch:  # a pairing's first month gets no notice
            by_grace.setdefault(info[pid].grace_days, []).append(pid)
    default = ctx.settings.clinic.default_language  # each member's, stored, else this
    queued = sum(queue_member_notices(session, "rotated", epoch, pids, text=text(grace),
                                      now=now, default_language=default)
                 for grace, pids in sorted(by_grace.items()))
    events.extend(AuditEvent(actor, Action.EPOCH_ROTATED, ctx.pairing_ref(pid),
                             {"epoch": epoch}) for pid in created)
    if events:
        ctx.audit.append_many(events, session=session)
    return created, len(retired), queued


def rotate(
    ctx: Services, now: datetime, *, pairing_ids: list[str] | None = None,
    actor: str = SCHEDULER_REF, batch: int = BATCH, progress: Progress | None = None,
) -> RotationResult:
    """Bring every active pairing (or ``pairing_ids``) to the epoch containing ``now``."""
    epoch = epoch_of(now)
    result = RotationResult(epoch)

    @functools.cache
    def texts(grace_days: int) -> Mapping[str, str]:
        return notices.rotated(epoch, grace_end(epoch - 1, grace_days))

    ctx.warm()
    after = ""
    with ctx.run_sessions() as sessions:
        with sessions() as session:
            total = pairing_rows.count_active(session, pairing_ids)
        while True:
            with sessions() as session:
                page = pairing_rows.active_page(session, after=after, limit=batch,
                                                pairing_ids=pairing_ids)
            if not page:
                break
            after = page[-1].pairing_id
            with sessions.begin() as session:
                created, retired, queued = _rotate_page(ctx, session, page, epoch=epoch,
                                                        now=now, actor=actor, text=texts)
            result.pairings += len(page)
            result.epochs_created += len(created)
            result.epochs_retired += retired
            result.notices_queued += queued
            if progress is not None:
                progress(result.pairings, total)
    return result
