"""v3 break-glass material at the relay: segment deposits, sealed pinned-key records and
enrolled physician keys (docs/PROTOCOL.md §24.2, §34.3; docs/adr/0026).

Insert-if-absent everywhere: the unique constraint on the digest decides, so a
byte-identical repeat (a deposit rides on a segment's first three tokens) changes
nothing, two replicas cannot both insert one, and nothing is ever overwritten. A sender
who makes *different* deposits for one slot gets at most :data:`MAX_PER_SLOT` of them
kept: more are refused (:class:`SlotFull`), never swapped for the first.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from medcrypt.storage.models.v3escrow import (
    EnrolledPhysicianKey,
    PinnedRecordBox,
    SegmentDeposit,
)
from medcrypt.storage.repos._sql import insert_if_absent, rowcount

_DEPOSITS: Table = SegmentDeposit.__table__  # type: ignore[assignment]
_RECORDS: Table = PinnedRecordBox.__table__  # type: ignore[assignment]
_ENROLLED: Table = EnrolledPhysicianKey.__table__  # type: ignore[assignment]

#: Distinct deposits kept per (pairing, month, direction, chain id). An honest companion
#: makes one; a few more cover a companion that re-sealed after a crash.
MAX_PER_SLOT = 3
#: Distinct sealed pinned-key records kept per pairing (an honest companion sends one).
MAX_RECORDS = 3


class Stored(Enum):
    """What :func:`store_deposit` / :func:`store_record` did."""

    ADDED = "added"
    REPEATED = "repeated"  # byte-identical to a kept one: nothing changed
    FULL = "full"  # the slot already holds the most distinct ones it keeps


@dataclass(frozen=True, slots=True)
class DepositRow:
    epoch: int
    direction: int
    chain_id: bytes
    raw: bytes


@dataclass(frozen=True, slots=True)
class Enrolled:
    identity_key: bytes
    label: str
    enrolled_at: datetime
    revoked_at: datetime | None


def _digest(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


def store_deposit(
    session: Session, *, pairing_id: str, epoch: int, direction: int, chain_id: bytes,
    raw: bytes, now: datetime,
) -> Stored:
    """Keep one stripped deposit under its slot; never replaces one."""
    digest = _digest(raw)
    slot = (SegmentDeposit.pairing_id == pairing_id, SegmentDeposit.epoch == epoch,
            SegmentDeposit.direction == direction, SegmentDeposit.chain_id == chain_id)
    if session.scalar(select(SegmentDeposit.id).where(*slot, SegmentDeposit.digest == digest)):
        return Stored.REPEATED
    if (session.scalar(select(func.count()).select_from(SegmentDeposit).where(*slot)) or 0
            ) >= MAX_PER_SLOT:
        return Stored.FULL
    added = insert_if_absent(session, _DEPOSITS, {
        "pairing_id": pairing_id, "epoch": epoch, "direction": direction,
        "chain_id": chain_id, "digest": digest, "raw": raw, "deposited_at": now})
    return Stored.ADDED if added else Stored.REPEATED


def deposits_of(session: Session, pairing_id: str) -> list[DepositRow]:
    """Every kept deposit of a pairing, in arrival order."""
    return [DepositRow(int(e), int(d), bytes(c), bytes(r)) for e, d, c, r in session.execute(
        select(SegmentDeposit.epoch, SegmentDeposit.direction, SegmentDeposit.chain_id,
               SegmentDeposit.raw)
        .where(SegmentDeposit.pairing_id == pairing_id).order_by(SegmentDeposit.id))]


def pairings_with_deposit(session: Session, epoch: int) -> set[str]:
    """Pairings with at least one v3 segment deposit for ``epoch``."""
    return {str(p) for p in session.scalars(select(SegmentDeposit.pairing_id).where(
        SegmentDeposit.epoch == epoch).distinct())}


def store_record(session: Session, *, pairing_id: str, raw: bytes, now: datetime) -> Stored:
    """Keep one sealed pinned-key record of a pairing; never replaces one."""
    digest = _digest(raw)
    mine = PinnedRecordBox.pairing_id == pairing_id
    if session.scalar(select(PinnedRecordBox.id).where(mine, PinnedRecordBox.digest == digest)):
        return Stored.REPEATED
    if (session.scalar(select(func.count()).select_from(PinnedRecordBox).where(mine)) or 0
            ) >= MAX_RECORDS:
        return Stored.FULL
    added = insert_if_absent(session, _RECORDS, {
        "pairing_id": pairing_id, "digest": digest, "raw": raw, "received_at": now})
    return Stored.ADDED if added else Stored.REPEATED


def records_of(session: Session, pairing_id: str) -> list[bytes]:
    """The sealed pinned-key records of a pairing, in arrival order."""
    return [bytes(r) for r in session.scalars(
        select(PinnedRecordBox.raw).where(PinnedRecordBox.pairing_id == pairing_id)
        .order_by(PinnedRecordBox.id))]


def drop_records(session: Session, pairing_ids: list[str]) -> int:
    """Delete the sealed records of these pairings (erasure); how many went."""
    if not pairing_ids:
        return 0
    return rowcount(session.execute(
        delete(PinnedRecordBox).where(PinnedRecordBox.pairing_id.in_(pairing_ids))
        .execution_options(synchronize_session=False)))


def enrol(session: Session, identity_key: bytes, label: str, *, now: datetime) -> bool:
    """Enrol a physician identity key; False when it is already enrolled (unchanged)."""
    return insert_if_absent(session, _ENROLLED, {
        "identity_key": identity_key, "label": label, "enrolled_at": now, "revoked_at": None})


def revoke(session: Session, identity_key: bytes, *, now: datetime) -> bool:
    """Withdraw an enrolment; False when it is unknown or already withdrawn."""
    result = session.execute(
        update(EnrolledPhysicianKey)
        .where(EnrolledPhysicianKey.identity_key == identity_key,
               EnrolledPhysicianKey.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False))
    return rowcount(result) > 0


def enrolled(session: Session) -> list[Enrolled]:
    """Every enrolment, oldest first (revoked ones included, with their time)."""
    return [Enrolled(bytes(k), str(label), at, revoked) for k, label, at, revoked in
            session.execute(select(EnrolledPhysicianKey.identity_key,
                                   EnrolledPhysicianKey.label, EnrolledPhysicianKey.enrolled_at,
                                   EnrolledPhysicianKey.revoked_at)
                            .order_by(EnrolledPhysicianKey.enrolled_at))]
