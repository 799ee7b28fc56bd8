"""After a database restore: the audit mark, the shreds the backup predates, the sweep.

A backup is a copy of rows, some of which were shredded after it was taken. Restoring
it brings them back, so before anything is served again this module, in order:

1. appends the signed ``audit.restored`` entry (the break ``audit verify`` recognises),
   naming the audit range that was lost: after the backup's head, up to the last seq
   the replaced database showed (None when it could not be read);
2. re-applies every fact of the erasure record - epochs shredded, pairings ended,
   persons erased - the way the bot did them first (without notices). Facts the
   backup already reflects change nothing: shredded epochs are not claimed twice, an
   ended pairing is not ended twice, an erased person is skipped. So no cut by time is
   needed, and none can miss a shred that committed just after the backup's snapshot;
3. runs the shred sweep, for epochs whose grace window ended while the backup sat on
   the shelf, and signs the audit entries all this wrote.

Pseudonyms in the record are mapped back by recomputing the pseudonym of every pairing
and identity the restored database holds (the pseudonym secret is in the database,
restored with it); a fact about a row the backup never had needs nothing re-applied.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from medcrypt.bot.domain.lifecycle.epochs import shred
from medcrypt.bot.domain.lifecycle.erasure import erase_identity_everywhere
from medcrypt.bot.domain.lifecycle.shred import BATCH, sweep
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.keyless.epochs import epoch_start
from medcrypt.crypto.server.audit import Action, system_ref
from medcrypt.storage import deks
from medcrypt.storage.audit import AuditEvent
from medcrypt.storage.backup.erasure_record import ErasureFact, dek_id_of
from medcrypt.storage.remanence import scrub
from medcrypt.storage.repos import epochs as epoch_rows
from medcrypt.storage.repos import identities, pairings
from medcrypt.storage.repos.epochs import NewEpoch

RESTORE_REF = system_ref("restore")


def mark_restore(ctx: Services, *, backup_head_seq: int, lost_to_seq: int | None,
                 backup_created_us: int) -> int:
    """Append the signed restore entry; returns its seq."""
    appended = ctx.audit.append_signed([AuditEvent(
        RESTORE_REF, Action.AUDIT_RESTORED, RESTORE_REF,
        {"backup_head_seq": backup_head_seq, "lost_from_seq": backup_head_seq + 1,
         "lost_to_seq": lost_to_seq, "backup_created_us": backup_created_us})])
    return appended.last_seq


def reapply(ctx: Services, facts: Sequence[ErasureFact], now: datetime) -> Counter[str]:
    """Re-apply recorded shreds and erasures to the restored rows; PHI-free counts.

    Runs without an erasure record (the facts are recorded already), so a restore
    does not append them a second time.
    """
    ctx = dataclasses.replace(ctx, erasure_record=None)
    ctx.warm()
    with ctx.sessions() as session:
        pairing_of = {ctx.pairing_ref(p): p for p in pairings.all_ids(session)}
        identity_of = {ctx.identity_ref(i): i for i in identities.all_ids(session)}
    counts: Counter[str] = Counter()
    # Destroyed DEKs first: nothing below may open a value under one of them.
    dek_ids = sorted({dek_id_of(f.ref) for f in facts if f.kind == "dek"})
    for start in range(0, len(dek_ids), BATCH):
        with ctx.sessions.begin() as session:
            counts["deks"] += deks.destroy_if_live(session, dek_ids[start:start + BATCH],
                                                   now=now)
    targets = sorted({(pairing_of[f.ref], f.epoch) for f in facts
                      if f.kind == "shred" and f.ref in pairing_of and f.epoch is not None})
    for start in range(0, len(targets), BATCH):  # bounded IN lists, as the sweep's
        batch = targets[start:start + BATCH]
        with ctx.sessions.begin() as session:
            epoch_rows.add_epochs(session, [NewEpoch(p, e, "active", epoch_start(e))
                                            for p, e in batch])
            _done, shredded = shred(ctx, session, batch, now=now, actor=RESTORE_REF,
                                    reason="restore", notice=None)
        counts.update(shredded)
    ended = sorted({pairing_of[f.ref] for f in facts if f.kind == "ended"
                    and f.ref in pairing_of})
    if ended:
        with ctx.sessions.begin() as session:
            counts["ended"] = sum(pairings.end_by_shred(session, p, now=now) for p in ended)
    for ref in sorted({f.ref for f in facts if f.kind == "erased" and f.ref in identity_of}):
        with ctx.sessions() as session:
            live = identities.is_live(session, identity_of[ref])
        if live:  # erased in the backup already: nothing of them to re-apply
            counts.update(erase_identity_everywhere(ctx, identity_of[ref], now))
            counts["erased"] += 1
    counts["facts"] = len(facts)
    return counts


def after_restore(ctx: Services, facts: Sequence[ErasureFact], now: datetime, *,
                  backup_head_seq: int, lost_to_seq: int | None,
                  backup_created_us: int) -> Counter[str]:
    """Steps 1-3 of the module docstring, then the post-shred scrub."""
    counts: Counter[str] = Counter()
    counts["restore_seq"] = mark_restore(ctx, backup_head_seq=backup_head_seq,
                                         lost_to_seq=lost_to_seq,
                                         backup_created_us=backup_created_us)
    counts.update(reapply(ctx, facts, now))
    result = sweep(ctx, now, actor=RESTORE_REF, scrub_after=False)  # recorded: new shreds
    counts["swept_epochs"] = result.epochs_shredded
    ctx.audit.checkpoint_open_tail()  # leave the restored log fully signed
    scrub(ctx.engine, ctx.settings.database.postgres_vacuum)
    return counts
