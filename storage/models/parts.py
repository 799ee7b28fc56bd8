"""Parts of a token split across several chat messages, held until all arrived."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base


class PendingPart(Base):
    __tablename__ = "pending_parts"
    __table_args__ = (
        UniqueConstraint("sender_id", "group_id", "part_index"),
        CheckConstraint("part_index >= 0 AND part_index < part_count", name="index_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: Group id from the part header (hex).
    group_id: Mapped[str] = mapped_column(String(64))
    part_index: Mapped[int] = mapped_column(Integer)
    part_count: Mapped[int] = mapped_column(Integer)
    chunk: Mapped[bytes] = mapped_column(LargeBinary)
    sender_id: Mapped[str] = mapped_column(
        ForeignKey("platform_identities.id", ondelete="CASCADE"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(index=True)
