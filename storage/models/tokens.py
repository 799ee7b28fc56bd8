"""Relay tokens kept until delivery is confirmed (and for the epoch's lifetime).

Tokens are end-to-end ciphertext; the bot stores the raw binary form. The composite
foreign key to the epoch row cascades, so shredding an epoch removes its tokens.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base


class StoredToken(Base):
    __tablename__ = "stored_tokens"
    __table_args__ = (
        ForeignKeyConstraint(
            ["pairing_id", "epoch"], ["epochs.pairing_id", "epochs.epoch"], ondelete="CASCADE"
        ),
        CheckConstraint("direction IN (0, 1)", name="direction"),
        Index(None, "pairing_id", "epoch", "direction", "msg_index"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pairing_id: Mapped[str] = mapped_column(String(32))
    epoch: Mapped[int] = mapped_column(Integer)
    #: crypto.wire.Direction: 0 patient→physician, 1 physician→patient.
    direction: Mapped[int] = mapped_column(SmallInteger)
    msg_index: Mapped[int] = mapped_column(Integer)
    #: crypto.wire.Kind value.
    kind: Mapped[int] = mapped_column(SmallInteger)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]
