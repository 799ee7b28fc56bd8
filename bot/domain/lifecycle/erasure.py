"""``/delete_me``: a patient's (or physician's) right to erasure, as far as the bot goes.

Every epoch of every pairing the person is in is shredded at once (no grace: they asked
for it), the pairings become ``erased``, pending parts they sent and messages queued to
them are deleted, their sealed address and label are cleared, and the other member is
told (PHI-free). The audit log keeps its entries - the chain must still verify - but
the subject keys of the person and of their pairings are deleted, so every detail ever
written about them becomes undecryptable while only pseudonymous references remain.

The bot helper's command handler calls :func:`erase_identity_everywhere` and then
replies; this module does not talk to a platform.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import delete, or_, select, update

from medcrypt.bot.domain.lifecycle import notices
from medcrypt.bot.domain.lifecycle.queue import Notice, queue_notices
from medcrypt.bot.domain.lifecycle.remanence import scrub
from medcrypt.bot.domain.lifecycle.shred import shred_pairing
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.errors import WrongPairing
from medcrypt.crypto.server.audit import Action, system_ref
from medcrypt.storage.models.admins import ClinicAdmin
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.models.parts import PendingPart


def erase_identity_everywhere(ctx: Services, identity_id: str, now: datetime) -> Counter[str]:
    """Erase ``identity_id``; returns PHI-free counts for the reply and the job log."""
    ctx.warm()
    me = ctx.identity_ref(identity_id)
    with ctx.sessions() as session:
        if session.get(PlatformIdentity, identity_id) is None:
            raise WrongPairing("unknown identity")
        pairings = session.execute(
            select(Pairing.pairing_id, Pairing.physician_id, Pairing.patient_id)
            .where(or_(Pairing.physician_id == identity_id, Pairing.patient_id == identity_id))
            .order_by(Pairing.pairing_id)
        ).all()
    counts: Counter[str] = Counter()
    for pid, _physician, _patient in pairings:
        counts.update(shred_pairing(ctx, pid, now, actor=me, reason="erasure",
                                    scrub_after=False, notify=False))
    with ctx.sessions.begin() as session:
        ids = [p.pairing_id for p in pairings]
        if ids:
            session.execute(update(Pairing).where(Pairing.pairing_id.in_(ids))
                            .values(status="erased"))
        peers = [(pid, other) for pid, physician, patient in pairings
                 for other in (physician, patient) if other and other != identity_id]
        counts["notices"] += queue_notices(session, [
            Notice(other, pid, notices.erased_peer(now),
                   notices.dedupe_key("erased", pid, 0, other)) for pid, other in peers], now)
        counts["outbox"] += int(session.execute(
            delete(OutboxMessage).where(OutboxMessage.dest_identity_id == identity_id,
                                        OutboxMessage.status.in_(("pending", "sending",
                                                                  "held")))
        ).rowcount or 0)  # type: ignore[attr-defined]
        counts["parts"] += int(session.execute(
            delete(PendingPart).where(PendingPart.sender_id == identity_id)
        ).rowcount or 0)  # type: ignore[attr-defined]
        session.execute(update(ClinicAdmin).where(ClinicAdmin.identity_id == identity_id,
                                                  ClinicAdmin.removed_at.is_(None))
                        .values(removed_at=now))
        identity = session.get(PlatformIdentity, identity_id)
        if identity is not None and identity.deleted_at is None:
            PlatformIdentity.ADDRESS.clear(identity)
            PlatformIdentity.LABEL.clear(identity)
            identity.deleted_at = now
        counts["pairings"] = len(ids)
        ctx.audit.append(me, Action.SUBJECT_ERASED, system_ref("erasure"),
                         {"pairings": len(ids), "epochs": int(counts["epochs"])},
                         session=session)
    # Crypto-shred the audit details about the person and their pairings; entries stay.
    for ref in [me, *(ctx.pairing_ref(p) for p in ids)]:
        ctx.audit.erase_subject(ref, actor=me)
    scrub(ctx.engine, ctx.settings.database.postgres_vacuum)
    return counts
