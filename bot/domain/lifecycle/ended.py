"""Erase patients whose last pairing ended and whose last month's grace has passed.

Why (issue 17, docs/adr/0039-shred-epochs.md): the bot keeps a patient's phone number
or chat id, sealed under their own DEK, only while it can relay for them. Once their
last pairing has ended (``/unpair``, ``/shred``) and the sweep has shredded every month
of it - so the grace window the companions honour is over too - the sweep erases them
as ``/delete_me`` would, DEK destroyed and erasure recorded, without telling anyone
(the other member was told when the pairing ended). Physicians, admins and patients
whose pairing a ``/shred`` ended are exempt:
:func:`storage.repos.ended.patients_past_last_pairing` says exactly who and why.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from medcrypt.bot.domain.lifecycle.erasure import erase_identity_everywhere
from medcrypt.bot.domain.services import SCHEDULER_REF, Services
from medcrypt.storage.remanence import scrub
from medcrypt.storage.repos.ended import patients_past_last_pairing

BATCH = 500


def erase_ended_patients(ctx: Services, now: datetime, *,
                         actor: str = SCHEDULER_REF) -> Counter[str]:
    """Erase every such patient; PHI-free counts (``erased_patients``, ``deks``)."""
    counts: Counter[str] = Counter()
    while True:
        with ctx.sessions() as session:
            due = patients_past_last_pairing(session, limit=BATCH)
        if not due:
            break
        for identity_id in due:
            done = erase_identity_everywhere(ctx, identity_id, now, actor=actor,
                                             notify=False, scrub_after=False)
            counts["deks"] += done["deks"]
            counts["erased_patients"] += 1
    if counts:
        scrub(ctx.engine, ctx.settings.database.postgres_vacuum)
    return counts
