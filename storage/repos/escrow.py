"""Escrow deposits: one per pairing, epoch and direction; the first one wins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from medcrypt.storage.models.escrow import EscrowDeposit
from medcrypt.storage.repos._sql import insert_if_absent


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
    return insert_if_absent(
        session,
        EscrowDeposit.__table__,  # type: ignore[arg-type]
        {"pairing_id": pairing_id, "epoch": epoch, "direction": direction, "raw": raw,
         "deposited_at": now},
    )


def deposits_of(
    session: Session, pairing_id: str, epoch: int | None = None
) -> list[EscrowDeposit]:
    stmt = select(EscrowDeposit).where(EscrowDeposit.pairing_id == pairing_id)
    if epoch is not None:
        stmt = stmt.where(EscrowDeposit.epoch == epoch)
    return list(session.scalars(stmt.order_by(EscrowDeposit.epoch, EscrowDeposit.direction)))
