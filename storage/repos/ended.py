"""Patients whose last pairing has ended and whose every month is shredded.

Why (issue 17, docs/adr/0039-shred-epochs.md): once a patient's last pairing has ended
and the grace window of its last month has passed, the bot has no reason left to hold
their phone number or chat id - nobody can write to them through it. The sweep erases
them then, like ``/delete_me``: the DEK destroyed, the address, label and blind index
cleared. Exempt are physicians (their identity is the clinic's to keep: they pair
again), admins (an active grant), anyone still in a pending or active pairing in either
role, and a patient with a pairing ended by ``/shred``: a shred ends a pairing for good
and every later token from that number must still get the "shredded, pair again"
refusal (ADR 0011) - which needs the number - until they ``/delete_me``.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from medcrypt.storage.models.admins import ClinicAdmin
from medcrypt.storage.models.epochs import Epoch
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.pairings import Pairing

_OPEN = ("pending", "active")


def patients_past_last_pairing(session: Session, *, limit: int = 500) -> list[str]:
    """Live patients with at least one pairing, none open, every epoch shredded and no
    active admin grant; at most ``limit`` ids (the sweep works in batches)."""
    me = PlatformIdentity.id
    had_one = exists().where(Pairing.patient_id == me)
    still_open = exists().where(or_(Pairing.patient_id == me, Pairing.physician_id == me),
                                Pairing.status.in_(_OPEN))
    unshredded = exists().where(Epoch.pairing_id == Pairing.pairing_id,
                                Pairing.patient_id == me, Epoch.state != "shredded")
    admin = exists().where(and_(ClinicAdmin.identity_id == me, ClinicAdmin.removed_at.is_(None)))
    shredded = exists().where(Pairing.patient_id == me, Pairing.shredded_at.is_not(None))
    return [str(i) for i in session.scalars(
        select(me).where(PlatformIdentity.role == "patient",
                         PlatformIdentity.deleted_at.is_(None),
                         had_one, ~still_open, ~unshredded, ~admin, ~shredded)
        .order_by(me).limit(limit))]
