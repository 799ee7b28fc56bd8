"""Epoch rows: the bot's record of which months of a pairing are active, retired
(in their grace window) or shredded.

The state machine's writes claim their rows with ``UPDATE ... WHERE state <> target
RETURNING`` or ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: the database decides
which process did the work, so concurrent runs never audit or notify twice, and a
write as first statement takes SQLite's write lock before anything is read. Callers
compute calendar instants (``crypto.keyless.epochs``) and pass them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, literal, select, update
from sqlalchemy.orm import Session

from medcrypt.storage.models.epochs import Epoch
from medcrypt.storage.models.escrow import EscrowDeposit
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.repos._sql import dialect_insert, insert_if_absent, insert_ignore

EPOCHS: Table = Epoch.__table__  # type: ignore[assignment]
#: Pairing ids per claiming UPDATE (bound parameters stay well under SQLite's limit).
CLAIM_CHUNK = 500


@dataclass(frozen=True, slots=True)
class NewEpoch:
    """An epoch row to create if it does not exist yet."""

    pairing_id: str
    epoch: int
    state: str
    started_at: datetime
    retired_at: datetime | None = None


def ensure_epoch(
    session: Session, pairing_id: str, epoch: int, *, now: datetime, retired: bool = False,
) -> bool:
    """The epoch row the stored rows hang on, created on first use: ``active`` from
    ``now``, or ``retired`` at ``now`` for a past month. True when this call created it;
    two replicas racing to create it both succeed, one of them creates it."""
    return insert_if_absent(session, EPOCHS, {
        "pairing_id": pairing_id, "epoch": epoch, "state": "retired" if retired else "active",
        "started_at": now, "retired_at": now if retired else None})


def add_epochs(session: Session, rows: Sequence[NewEpoch]) -> int:
    """Create the rows that do not exist yet; returns how many were created."""
    return insert_ignore(session, EPOCHS, [
        {"pairing_id": r.pairing_id, "epoch": r.epoch, "state": r.state,
         "started_at": r.started_at, "retired_at": r.retired_at} for r in rows])


def epoch_state(session: Session, pairing_id: str, epoch: int) -> str | None:
    """The row's state; None while the month has no row."""
    state = session.scalar(select(Epoch.state).where(
        Epoch.pairing_id == pairing_id, Epoch.epoch == epoch))
    return None if state is None else str(state)


def create_for_month(
    session: Session, pairing_ids: Sequence[str], epoch: int, *, started_at: datetime,
) -> list[str]:
    """Create ``epoch``'s row for each still-active pairing of ``pairing_ids`` that has
    started by then; returns the pairing ids whose row this call created.

    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``: the (pairing_id, epoch)
    unique constraint, not a prior check, decides who created it.
    """
    source = select(
        Pairing.pairing_id, literal(epoch), literal("active"),
        literal(started_at, EPOCHS.c.started_at.type),
    ).where(Pairing.pairing_id.in_(list(pairing_ids)), Pairing.status == "active",
            Pairing.start_epoch <= epoch)
    cols = ["pairing_id", "epoch", "state", "started_at"]
    stmt = dialect_insert(session, EPOCHS).from_select(cols, source) \
        .on_conflict_do_nothing().returning(EPOCHS.c.pairing_id)
    return [str(r[0]) for r in session.execute(stmt).all()]


def retire_before(
    session: Session, *, before_epoch: int, now: datetime,
    pairing_ids: Sequence[str] | None = None,
) -> list[tuple[str, int]]:
    """Retire every ``active`` epoch older than ``before_epoch`` (optionally of some
    pairings); returns the (pairing id, epoch) this call retired."""
    # Per batch of pairings the (pairing_id, epoch) key must drive the search: offered
    # ``state = 'active'``, SQLite picks ix_epochs_state_epoch and walks every active
    # epoch of the table for each batch; ``state || ''`` keeps that index out of it.
    state = EPOCHS.c.state if pairing_ids is None else EPOCHS.c.state.concat("")
    stmt: Any = (
        update(EPOCHS)
        .where(state == "active", EPOCHS.c.epoch < before_epoch)
        .values(state="retired", retired_at=now)
        .returning(EPOCHS.c.pairing_id, EPOCHS.c.epoch)
    )
    if pairing_ids is not None:
        stmt = stmt.where(EPOCHS.c.pairing_id.in_(list(pairing_ids)))
    return [(str(p), int(e)) for p, e in session.execute(stmt).all()]


def claim_shred(
    session: Session, epoch: int, pairing_ids: Sequence[str], *, now: datetime,
) -> list[str]:
    """Mark ``epoch`` of these pairings ``shredded`` unless it already is; returns the
    pairing ids this call claimed (so only one run deletes, notifies and audits)."""
    claimed: list[str] = []
    ids = list(pairing_ids)
    for start in range(0, len(ids), CLAIM_CHUNK):
        stmt: Any = (
            update(EPOCHS)
            .where(EPOCHS.c.epoch == epoch,
                   EPOCHS.c.pairing_id.in_(ids[start:start + CLAIM_CHUNK]),
                   EPOCHS.c.state != "shredded")
            .values(state="shredded", shredded_at=now)
            .returning(EPOCHS.c.pairing_id)
        )
        claimed.extend(str(p) for p in session.scalars(stmt))
    return claimed


def live_past(session: Session, before_epoch: int) -> list[tuple[str, int, int]]:
    """(pairing id, epoch, grace days) of every epoch before ``before_epoch`` that is not
    shredded yet, sorted."""
    # ``state IN (...)`` rather than ``<> 'shredded'`` and no ORDER BY, so the
    # (state, epoch) index finds the live past without walking years of shredded rows;
    # sorted here for the batches' locality.
    return sorted((str(p), int(e), int(g)) for p, e, g in session.execute(
        select(Epoch.pairing_id, Epoch.epoch, Pairing.grace_days)
        .join(Pairing, Pairing.pairing_id == Epoch.pairing_id)
        .where(Epoch.state.in_(("active", "retired")), Epoch.epoch < before_epoch)))


def unshredded_up_to(session: Session, pairing_id: str, epoch: int) -> list[int]:
    """Epochs of ``pairing_id`` up to and including ``epoch`` not shredded yet."""
    return [int(e) for e in session.scalars(
        select(Epoch.epoch).where(Epoch.pairing_id == pairing_id, Epoch.state != "shredded",
                                  Epoch.epoch <= epoch))]


def shredded_epochs(session: Session, pairing_id: str) -> set[int]:
    return {int(e) for e in session.scalars(select(Epoch.epoch).where(
        Epoch.pairing_id == pairing_id, Epoch.state == "shredded"))}


def orphan_deposit_epochs(session: Session, before_epoch: int) -> list[tuple[str, int]]:
    """(pairing id, epoch) of escrow deposits before ``before_epoch`` whose month has no
    epoch row (a deposit can arrive for a month in which nothing was relayed)."""
    return [(str(p), int(e)) for p, e in session.execute(
        select(EscrowDeposit.pairing_id, EscrowDeposit.epoch).distinct()
        .outerjoin(Epoch, (Epoch.pairing_id == EscrowDeposit.pairing_id)
                   & (Epoch.epoch == EscrowDeposit.epoch))
        .where(Epoch.id.is_(None), EscrowDeposit.epoch < before_epoch))]
