"""Pairings and their epochs: create on PAIR_REGISTER, accept, unpair, shred."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from medcrypt.crypto.errors import OfferExpired, OfferReused, StorageError, WrongPairing
from medcrypt.storage.models.epochs import Epoch
from medcrypt.storage.models.media import MediaBlob
from medcrypt.storage.models.pairings import PAIRING_STATUSES, Pairing
from medcrypt.storage.models.tokens import StoredToken


def create_pairing(
    session: Session,
    *,
    pairing_id: str,
    physician_id: str,
    start_epoch: int,
    grace_days: int,
    offer_expires_at: datetime,
    now: datetime,
) -> Pairing:
    """Record a registered offer; a second registration of the same id is refused."""
    if session.get(Pairing, pairing_id) is not None:
        raise OfferReused("this pairing id is already registered")
    pairing = Pairing(
        pairing_id=pairing_id, physician_id=physician_id, patient_id=None,
        status="pending", start_epoch=start_epoch, grace_days=grace_days,
        offer_expires_at=offer_expires_at, created_at=now,
    )
    session.add(pairing)
    session.flush()
    return pairing


def get_pairing(session: Session, pairing_id: str) -> Pairing | None:
    return session.get(Pairing, pairing_id)


def accept_pairing(
    session: Session,
    pairing_id: str,
    *,
    patient_id: str,
    now: datetime,
    consent_channel: str,
    consent_notice_version: str,
) -> Pairing:
    """Complete a pending offer: patient bound, consent recorded, start epoch opened."""
    pairing = session.get(Pairing, pairing_id, with_for_update=True)
    if pairing is None:
        raise WrongPairing("unknown pairing")
    if pairing.status != "pending":
        raise OfferReused("this pairing offer was already used")
    if now >= pairing.offer_expires_at:
        raise OfferExpired("the pairing offer has expired")
    if patient_id == pairing.physician_id:
        raise WrongPairing("a physician cannot pair with themselves")
    pairing.patient_id = patient_id
    pairing.status = "active"
    pairing.completed_at = now
    pairing.consent_at = now
    pairing.consent_channel = consent_channel
    pairing.consent_notice_version = consent_notice_version
    ensure_epoch(session, pairing_id, pairing.start_epoch, now=now)
    session.flush()
    return pairing


def set_pairing_status(session: Session, pairing_id: str, status: str) -> Pairing:
    if status not in PAIRING_STATUSES:
        raise StorageError(f"unknown pairing status {status!r}")
    pairing = session.get(Pairing, pairing_id)
    if pairing is None:
        raise WrongPairing("unknown pairing")
    pairing.status = status
    session.flush()
    return pairing


def pairings_of(session: Session, identity_id: str, *, active_only: bool = True) -> list[Pairing]:
    """Pairings in which ``identity_id`` is the physician or the patient."""
    stmt = select(Pairing).where(
        or_(Pairing.physician_id == identity_id, Pairing.patient_id == identity_id)
    )
    if active_only:
        stmt = stmt.where(Pairing.status == "active")
    return list(session.scalars(stmt.order_by(Pairing.created_at)))


def ensure_epoch(session: Session, pairing_id: str, epoch: int, *, now: datetime) -> Epoch:
    """The epoch row, created ``active`` on first use."""
    row = get_epoch(session, pairing_id, epoch)
    if row is None:
        row = Epoch(pairing_id=pairing_id, epoch=epoch, state="active", started_at=now)
        session.add(row)
        session.flush()
    return row


def get_epoch(session: Session, pairing_id: str, epoch: int) -> Epoch | None:
    stmt = select(Epoch).where(Epoch.pairing_id == pairing_id, Epoch.epoch == epoch)
    return session.scalars(stmt).first()


def epochs_in_state(session: Session, state: str) -> list[Epoch]:
    stmt = select(Epoch).where(Epoch.state == state).order_by(Epoch.pairing_id, Epoch.epoch)
    return list(session.scalars(stmt))


def retire_epoch(session: Session, pairing_id: str, epoch: int, *, now: datetime) -> Epoch:
    """Start the grace window of ``epoch`` (it still relays until shredded)."""
    row = ensure_epoch(session, pairing_id, epoch, now=now)
    if row.state == "active":
        row.state = "retired"
        row.retired_at = now
        session.flush()
    return row


def shred_epoch(session: Session, pairing_id: str, epoch: int, *, now: datetime) -> int:
    """Mark ``epoch`` shredded and delete its stored tokens and media; returns rows deleted.

    On SQLite call :func:`storage.db.sqlite_checkpoint_truncate` after commit so the
    deleted bytes leave the WAL too.
    """
    row = ensure_epoch(session, pairing_id, epoch, now=now)
    deleted = 0
    for stmt in (
        delete(StoredToken).where(
            StoredToken.pairing_id == pairing_id, StoredToken.epoch == epoch
        ),
        delete(MediaBlob).where(MediaBlob.pairing_id == pairing_id, MediaBlob.epoch == epoch),
    ):
        deleted += int(getattr(session.execute(stmt), "rowcount", 0) or 0)
    if row.state != "shredded":
        row.state = "shredded"
        row.shredded_at = now
        if row.retired_at is None:
            row.retired_at = now
    session.flush()
    return deleted
