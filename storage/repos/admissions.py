"""v3 pairing admission: admission hashes, pending accepts, abort and binding.

Every decision is taken with the pairing row locked (PostgreSQL ``FOR UPDATE``; SQLite
serialises writers), so two accepts racing in two replicas are counted as two, and the
unique constraints (one accept per account per pairing, one account per accept bytes)
are the last word: no caller sees an ``IntegrityError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from medcrypt.crypto.errors import WrongPairing
from medcrypt.storage.models.admissions import PairingAdmission, PendingAccept
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.repos._sql import insert_if_absent, rowcount

_ADMISSIONS: Table = PairingAdmission.__table__  # type: ignore[assignment]
_PENDING: Table = PendingAccept.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Admission:
    admission_hash: bytes
    aborted_at: datetime | None


class Pending(Enum):
    """What :func:`add_pending` did with an admitted accept."""

    ADDED = "added"  # a new pending accept
    REPEATED = "repeated"  # the same account sent the same accept again: nothing changes
    OTHER_ACCOUNT = "other_account"  # these accept bytes are pending for another account
    ALREADY_SENT = "already_sent"  # this account has another accept pending


@dataclass(frozen=True, slots=True)
class Waiting:
    sender_id: str
    received_at: datetime


def record_admission(session: Session, pairing_id: str, admission_hash: bytes) -> bool:
    """Store a v3 offer's ``H_A`` (insert-if-absent; False when already there)."""
    return insert_if_absent(session, _ADMISSIONS, {
        "pairing_id": pairing_id, "admission_hash": admission_hash, "aborted_at": None})


def is_v3(session: Session, pairing_id: str) -> bool:
    """Whether ``pairing_id`` was registered by a v3 offer (it has an admission row)."""
    return admission_of(session, pairing_id) is not None


def admission_of(session: Session, pairing_id: str) -> Admission | None:
    """The pairing's admission row; None for a v2 pairing."""
    row = session.execute(select(PairingAdmission.admission_hash, PairingAdmission.aborted_at)
                          .where(PairingAdmission.pairing_id == pairing_id)).first()
    return None if row is None else Admission(bytes(row[0]), row[1])


def _lock(session: Session, pairing_id: str) -> Pairing:
    pairing = session.get(Pairing, pairing_id, with_for_update=True)
    if pairing is None:
        raise WrongPairing("unknown pairing")
    return pairing


def add_pending(session: Session, *, pairing_id: str, sender_id: str, accept_hash: bytes,
                now: datetime) -> tuple[Pending, list[Waiting]]:
    """Record an admitted accept; returns what happened and every pending accept after.

    The caller aborts when the list names two accounts (the QR was seen by someone
    else). Repeats and conflicts change nothing.
    """
    _lock(session, pairing_id)
    if session.new or session.dirty:
        session.flush()  # a first-time sender's identity row
    rows = session.execute(select(PendingAccept.sender_id, PendingAccept.accept_hash)
                           .where(PendingAccept.pairing_id == pairing_id)).all()
    outcome = Pending.ADDED
    for other_sender, other_hash in rows:
        same_bytes = bytes(other_hash) == accept_hash
        if other_sender == sender_id:
            outcome = Pending.REPEATED if same_bytes else Pending.ALREADY_SENT
            break
        if same_bytes:
            outcome = Pending.OTHER_ACCOUNT
            break
    if outcome is Pending.ADDED and not insert_if_absent(session, _PENDING, {
            "pairing_id": pairing_id, "sender_id": sender_id, "accept_hash": accept_hash,
            "received_at": now}):
        outcome = Pending.OTHER_ACCOUNT  # a concurrent insert took the slot first
    return outcome, waiting(session, pairing_id)


def waiting(session: Session, pairing_id: str) -> list[Waiting]:
    """Pending accepts of the pairing, oldest first."""
    return [Waiting(str(s), r) for s, r in session.execute(
        select(PendingAccept.sender_id, PendingAccept.received_at)
        .where(PendingAccept.pairing_id == pairing_id)
        .order_by(PendingAccept.received_at, PendingAccept.id))]


def sender_of(session: Session, pairing_id: str, accept_hash: bytes) -> str | None:
    """Which account sent the pending accept ``accept_hash`` names (exact bytes)."""
    _lock(session, pairing_id)
    value = session.scalar(select(PendingAccept.sender_id).where(
        PendingAccept.pairing_id == pairing_id, PendingAccept.accept_hash == accept_hash))
    return None if value is None else str(value)


def abort(session: Session, pairing_id: str, *, now: datetime) -> bool:
    """End the offer for good: ``aborted_at`` set, pending accepts deleted, the pairing
    ``unpaired``. False when it was already aborted."""
    result = session.execute(
        update(PairingAdmission)
        .where(PairingAdmission.pairing_id == pairing_id, PairingAdmission.aborted_at.is_(None))
        .values(aborted_at=now).execution_options(synchronize_session=False))
    session.execute(delete(PendingAccept).where(PendingAccept.pairing_id == pairing_id)
                    .execution_options(synchronize_session=False))
    session.execute(update(Pairing).where(Pairing.pairing_id == pairing_id,
                                          Pairing.status == "pending")
                    .values(status="unpaired").execution_options(synchronize_session=False))
    return rowcount(result) > 0


def clear_pending(session: Session, pairing_id: str) -> int:
    """Forget the pairing's pending accepts (once one is bound); returns how many."""
    result = session.execute(delete(PendingAccept).where(PendingAccept.pairing_id == pairing_id)
                             .execution_options(synchronize_session=False))
    return rowcount(result)


def drop_accepts_of(session: Session, identity_id: str) -> int:
    """Erasure: forget every pending accept ``identity_id`` sent."""
    result = session.execute(delete(PendingAccept).where(PendingAccept.sender_id == identity_id)
                             .execution_options(synchronize_session=False))
    return rowcount(result)


def purge_expired(session: Session, *, now: datetime) -> int:
    """Forget pending accepts of offers past their deadline (they can no longer bind)."""
    expired = select(Pairing.pairing_id).where(Pairing.offer_expires_at <= now)
    result = session.execute(delete(PendingAccept).where(PendingAccept.pairing_id.in_(expired))
                             .execution_options(synchronize_session=False))
    return rowcount(result)
