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

from medcrypt.bot.domain.lifecycle import notices
from medcrypt.bot.domain.lifecycle.queue import Notice, languages_for, queue_notices
from medcrypt.bot.domain.lifecycle.shred import shred_pairing
from medcrypt.bot.domain.names import name_of
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.errors import WrongPairing
from medcrypt.crypto.server.audit import Action, system_ref
from medcrypt.storage import deks
from medcrypt.storage.audit import to_us
from medcrypt.storage.backup.erasure_record import ErasureFact, dek_ref
from medcrypt.storage.remanence import scrub
from medcrypt.storage.repos import (
    admins,
    admissions,
    identities,
    outbox,
    pairings,
    tokens,
    v3escrow,
)


def erase_identity_everywhere(ctx: Services, identity_id: str, now: datetime, *,
                              actor: str | None = None, notify: bool = True,
                              scrub_after: bool = True) -> Counter[str]:
    """Erase ``identity_id``; returns PHI-free counts for the reply and the job log.

    ``actor`` is the person themself (``/delete_me``) unless given (the sweep erasing a
    patient whose last pairing ended: :mod:`.ended`, which passes ``notify=False`` -
    the other members were told when the pairing ended)."""
    ctx.warm()
    me = ctx.identity_ref(identity_id)
    who = actor or me
    with ctx.sessions() as session:
        if not identities.exists(session, identity_id):
            raise WrongPairing("unknown identity")
        mine = sorted(pairings.pairings_of(session, identity_id, statuses=None),
                      key=lambda p: p.pairing_id)
    counts: Counter[str] = Counter()
    for p in mine:
        counts.update(shred_pairing(ctx, p.pairing_id, now, actor=who, reason="erasure",
                                    scrub_after=False, notify=False, end=False))
    with ctx.sessions.begin() as session:
        ids = [p.pairing_id for p in mine]
        if ids:
            pairings.set_status_of(session, ids, "erased")
        peers = [(p, other) for p in mine
                 for other in (p.physician_id, p.patient_id) if other and other != identity_id]
        language = languages_for(session, [other for _, other in peers],
                                 ctx.settings.clinic.default_language)
        counts["notices"] += 0 if not notify else queue_notices(session, [
            Notice(other, p.pairing_id, notices.erased_peer(name_of(p), now).in_(language[other]),
                   notices.dedupe_key("erased", p.pairing_id, 0, other))
            for p, other in peers], now)
        counts["outbox"] += outbox.drop_queued_for(session, identity_id)
        counts["parts"] += tokens.drop_parts_of(session, identity_id)
        counts["accepts"] += admissions.drop_accepts_of(session, identity_id)
        # v3 pinned-key records name both identity keys: they go with the pairings.
        counts["records"] += v3escrow.drop_records(session, ids)
        admins.revoke_all(session, identity_id, now=now)
        destroyed = deks.live_ids_of(session, identity_id)
        identities.erase_identity(session, identity_id, now=now)
        counts["pairings"] = len(ids)
        counts["deks"] = len(destroyed)
        ctx.record_erasure([ErasureFact(to_us(now), "erased", me),
                            *(ErasureFact(to_us(now), "dek", dek_ref(d)) for d in destroyed)])
        ctx.audit.append(who, Action.SUBJECT_ERASED, system_ref("erasure"),
                         {"pairings": len(ids), "epochs": int(counts["epochs"])},
                         session=session)
    # Crypto-shred the audit details about the person and their pairings; entries stay.
    for ref in [me, *(ctx.pairing_ref(p) for p in ids)]:
        ctx.audit.erase_subject(ref, actor=who)
    if scrub_after:
        scrub(ctx.engine, ctx.settings.database.postgres_vacuum)
    return counts
