"""Epoch rows: the bot's view of each pairing's monthly key periods.

The bot holds no epoch keys; it tracks which epochs are active, retired (grace) or
shredded, so it can refuse tokens of shredded epochs and delete their stored tokens
and media. Tokens and media reference the epoch row with ON DELETE CASCADE.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base

EPOCH_STATES = ("active", "retired", "shredded")


class Epoch(Base):
    __tablename__ = "epochs"
    __table_args__ = (
        UniqueConstraint("pairing_id", "epoch"),
        CheckConstraint(f"state IN {EPOCH_STATES!r}", name="state"),
        CheckConstraint("epoch >= 0", name="epoch"),
        # The jobs select by state: rotation retires ``state = 'active' AND epoch < ?``,
        # the sweep walks the unshredded past, the relay checks an epoch's state.
        Index(None, "state", "epoch"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pairing_id: Mapped[str] = mapped_column(
        ForeignKey("pairings.pairing_id", ondelete="CASCADE")
    )
    epoch: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="active")
    started_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]
    shredded_at: Mapped[datetime | None]
