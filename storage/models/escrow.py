"""Escrow deposits: each epoch key sealed to the clinic's 2-of-3 escrow key.

The bot cannot open them (only a break-glass quorum can); it stores the raw deposit
token, one per pairing, epoch and direction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base


class EscrowDeposit(Base):
    __tablename__ = "escrow_deposits"
    __table_args__ = (
        UniqueConstraint("pairing_id", "epoch", "direction"),
        CheckConstraint("direction IN (0, 1)", name="direction"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pairing_id: Mapped[str] = mapped_column(
        ForeignKey("pairings.pairing_id", ondelete="CASCADE")
    )
    epoch: Mapped[int] = mapped_column(Integer)
    direction: Mapped[int] = mapped_column(SmallInteger)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    deposited_at: Mapped[datetime]
