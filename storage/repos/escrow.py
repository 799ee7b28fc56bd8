"""Escrow deposits: one per pairing, epoch and direction; the first one wins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from medcrypt.storage.models.escrow import EscrowDeposit
from medcrypt.storage.repos._sql import insert_if_absent

_DEPOSITS: Table = EscrowDeposit.__table__  # type: ignore[assignment]


def store_deposit(
    session: Session,
    *,
    pairing_id: str,
    epoch: int,
    direction: int,
    raw: bytes,
    now: datetime,
) -> bool:
    """Store a deposit; False when one already exists (a repeat cannot replace it)."""
    return insert_if_absent(session, _DEPOSITS, {
        "pairing_id": pairing_id, "epoch": epoch, "direction": direction, "raw": raw,
        "deposited_at": now})


def deposits_raw(session: Session, pairing_id: str) -> list[bytes]:
    """Raw bytes of every deposit of a pairing, in arrival order."""
    return list(session.scalars(select(EscrowDeposit.raw).where(
        EscrowDeposit.pairing_id == pairing_id).order_by(EscrowDeposit.id)))


def pairings_with_deposit(session: Session, epoch: int) -> set[str]:
    """Pairings with at least one deposit for ``epoch``."""
    return {str(p) for p in session.scalars(select(EscrowDeposit.pairing_id).where(
        EscrowDeposit.epoch == epoch).distinct())}
