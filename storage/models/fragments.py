"""Pieces of a token a chat app split while pasting, held seconds until the rest comes.

Telegram clients cut a paste longer than 4096 characters into several messages. The
relay keeps each piece of an unfinished paste here (its text is token base64, never
free text: :mod:`bot.relay.guard` rule 4) and rejoins them when the tail arrives; a
run that stops early is guarded and its rows are pruned (:mod:`bot.domain.retention`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base


class PendingFragment(Base):
    __tablename__ = "pending_fragments"
    __table_args__ = (UniqueConstraint("sender_id", "run_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sender_id: Mapped[str] = mapped_column(
        ForeignKey("platform_identities.id", ondelete="CASCADE"), index=True
    )
    #: Random id of one paste (hex); a new head starts a new run.
    run_id: Mapped[str] = mapped_column(String(32))
    #: Position of the piece in its paste, from 0.
    seq: Mapped[int] = mapped_column(Integer)
    #: The piece's text (ASCII base64, with the token's opening for the head).
    text: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(index=True)
