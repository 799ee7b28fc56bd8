"""The shred sweep and on-demand shredding.

The sweep (hourly by default) looks at every epoch not yet shredded that lies before
the current month, and for each: warns both members once when its grace end is less
than a day away, and shreds it once the grace end has passed - deleting everything the
bot holds for it, marking it ``shredded``, notifying and auditing, all in one
transaction per batch of epochs. Then it scrubs the database files
(:mod:`storage.remanence`). Grace ends are computed per pairing from the grace window
its QR policy carried, which is what the companions enforce.

On demand, :func:`shred_pairing` shreds every epoch of one pairing up to and including
the current one, immediately (lost phone, suspected compromise), and ends the pairing for
good. Ending it is the half that stops a thief: both companions - and any copy of their
keystores - derive every later month's key from the month they hold, so shredding what
the bot stores up to now would leave next month's tokens flowing to the stolen account.
A shredded pairing is refused by the relay whatever the month of its tokens
(:func:`bot.domain.pairings.closed_to_tokens`); both members are told to end it on
their companion and to pair again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from medcrypt.bot.domain.lifecycle import notices
from medcrypt.bot.domain.lifecycle.epochs import members_of, retire, shred
from medcrypt.bot.domain.lifecycle.purge import Target
from medcrypt.bot.domain.lifecycle.queue import (
    Notice,
    languages_for,
    queue_member_notices,
    queue_notices,
)
from medcrypt.bot.domain.names import shown
from medcrypt.bot.domain.services import SCHEDULER_REF, Progress, Services
from medcrypt.crypto.errors import StorageError
from medcrypt.crypto.keyless.epochs import epoch_of, epoch_start, grace_end
from medcrypt.crypto.server.audit import Action
from medcrypt.storage.audit import to_us
from medcrypt.storage.backup.erasure_record import ErasureFact
from medcrypt.storage.db import is_sqlite
from medcrypt.storage.remanence import scrub
from medcrypt.storage.repos import epochs as epoch_rows
from medcrypt.storage.repos import pairings as pairing_rows
from medcrypt.storage.repos.epochs import NewEpoch

log = structlog.get_logger("bot.jobs")

BATCH = 500
#: How long before a grace end the "keys will be destroyed" notice goes out.
WARN_AHEAD = timedelta(days=1)


@dataclass
class SweepResult:
    epochs_shredded: int = 0
    epochs_retired: int = 0
    warnings_queued: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    scrub: str = "none"

    def summary(self) -> dict[str, int | str]:
        out: dict[str, int | str] = {
            "epochs_shredded": self.epochs_shredded, "epochs_retired": self.epochs_retired,
            "warnings_queued": self.warnings_queued, "scrub": self.scrub}
        out.update({k: int(v) for k, v in sorted(self.counts.items()) if k != "epochs"})
        return out


def _adopt_orphan_deposits(ctx: Services, current: int) -> None:
    """Give escrow deposits of past months an epoch row so the sweep can find them.

    Deposits reference the pairing, not the epoch row; one can arrive for a month in
    which the pairing relayed nothing. Rows are created ``retired`` (never ``active``).
    """
    with ctx.sessions() as session:
        missing = epoch_rows.orphan_deposit_epochs(session, current)
    if missing:
        with ctx.sessions.begin() as session:
            epoch_rows.add_epochs(session, [
                NewEpoch(p, e, "retired", epoch_start(e), retired_at=epoch_start(e + 1))
                for p, e in missing])


def sweep(
    ctx: Services, now: datetime, *, batch: int = BATCH, progress: Progress | None = None,
    actor: str = SCHEDULER_REF, scrub_after: bool = True,
) -> SweepResult:
    """Warn about, and shred, every past epoch whose grace window is ending or over."""
    result = SweepResult()
    current = epoch_of(now)
    ctx.warm()
    _adopt_orphan_deposits(ctx, current)
    with ctx.run_sessions() as sessions:
        with sessions.begin() as session:
            result.epochs_retired = len(retire(ctx, session, before_epoch=current, now=now,
                                               actor=actor))
        with sessions() as session:
            rows = epoch_rows.live_past(session, current)
        due: list[Target] = []
        warn: dict[tuple[int, datetime], list[str]] = {}
        for pid, epoch, grace_days in rows:
            ends = grace_end(epoch, grace_days)
            if now >= ends:
                due.append((pid, epoch))
            elif now >= ends - WARN_AHEAD:
                warn.setdefault((epoch, ends), []).append(pid)
        if warn:
            default = ctx.settings.clinic.default_language
            with sessions.begin() as session:
                result.warnings_queued = sum(
                    queue_member_notices(session, "shred_soon", epoch, pids,
                                         text=notices.shred_soon(epoch, ends), now=now,
                                         default_language=default)
                    for (epoch, ends), pids in sorted(warn.items()))
        for start in range(0, len(due), batch):
            with sessions.begin() as session:
                done, counts = shred(ctx, session, due[start:start + batch], now=now,
                                     actor=actor, reason="grace_ended")
            result.epochs_shredded += len(done)
            result.counts.update(counts)
            if progress is not None:
                progress(min(start + batch, len(due)), len(due))
    if scrub_after and (result.epochs_shredded or is_sqlite(ctx.engine)):
        # SQLite: every run, so a checkpoint that an earlier run found busy (a reader
        # pinning old WAL frames) is retried within the hour. A busy checkpoint does
        # not fail the run - the deletions are committed - but is recorded as such.
        try:
            result.scrub = scrub(ctx.engine, ctx.settings.database.postgres_vacuum)
        except StorageError:
            result.scrub = "busy"
            log.warning("shred_scrub_busy")
    return result


def shred_pairing(
    ctx: Services, pairing_id: str, now: datetime, *, actor: str, reason: str,
    scrub_after: bool = True, notify: bool = True, end: bool = True,
) -> Counter[str]:
    """Shred every epoch of ``pairing_id`` up to the current month, now, without grace.

    With ``end`` (``/shred``) the pairing is ended for good in the same transaction;
    erasure passes False because it ends the pairing itself, as ``erased``.
    ``counts["ended"]`` is 1 when this call ended it.
    """
    current = epoch_of(now)
    ctx.warm()
    with ctx.sessions.begin() as session:
        # First statement: it takes the write lock and ends the pairing before anything
        # is read, so no token of it is relayed once the deletions below commit.
        ended = end and pairing_rows.end_by_shred(session, pairing_id, now=now)
        # The current month gets a row even if nothing was relayed yet, so the relay
        # refuses its tokens from now on (policy.epoch_status reads the row).
        epoch_rows.add_epochs(session, [
            NewEpoch(pairing_id, current, "active", epoch_start(current))])
        targets = [(pairing_id, e)
                   for e in epoch_rows.unshredded_up_to(session, pairing_id, current)]
        _done, counts = shred(ctx, session, targets, now=now, actor=actor, reason=reason,
                              notice=None)
        if ended:
            counts["ended"] = 1
            ctx.record_erasure([ErasureFact(to_us(now), "ended", ctx.pairing_ref(pairing_id))])
            ctx.audit.append(actor, Action.PAIRING_UNPAIRED, ctx.pairing_ref(pairing_id),
                             {"reason": reason, "ended_by": "shred"}, session=session)
        if notify:
            record = pairing_rows.get_pairing(session, pairing_id)
            name = shown(pairing_id, record.tag if record is not None else None)
            members = members_of(session, [pairing_id]).get(pairing_id, [])
            language = languages_for(session, members, ctx.settings.clinic.default_language)
            text = notices.shredded_now(name, current, now)
            counts["notices"] = queue_notices(session, [
                Notice(m, pairing_id, text.in_(language[m]),
                       notices.dedupe_key("shredded_now", pairing_id, current, m))
                for m in members], now)
    if scrub_after and counts:
        scrub(ctx.engine, ctx.settings.database.postgres_vacuum)
    return counts
