"""The outbox: every outgoing platform message, persisted before it is sent.

A crash between "decided to send" and "platform accepted" loses nothing: the row is
there on restart. Workers claim due rows (``claimed_by``/``claimed_until``; on
PostgreSQL with ``FOR UPDATE SKIP LOCKED``), so several replicas never send the same
row twice, and an expired claim is picked up again. ``dedupe_key`` makes enqueueing
idempotent (e.g. one notice per inbound platform message).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base

PAYLOAD_KINDS = ("text", "document", "template", "notice")
OUTBOX_STATUSES = ("pending", "sending", "sent", "delivered", "failed")


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(f"payload_kind IN {PAYLOAD_KINDS!r}", name="payload_kind"),
        CheckConstraint(f"status IN {OUTBOX_STATUSES!r}", name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "platform_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dest_identity_id: Mapped[str] = mapped_column(
        ForeignKey("platform_identities.id", ondelete="CASCADE"), index=True
    )
    #: Who caused this message (told about a permanent failure); NULL for bot notices.
    origin_identity_id: Mapped[str | None] = mapped_column(
        ForeignKey("platform_identities.id", ondelete="SET NULL")
    )
    pairing_id: Mapped[str | None] = mapped_column(
        ForeignKey("pairings.pairing_id", ondelete="CASCADE"), index=True
    )
    payload_kind: Mapped[str] = mapped_column(String(16))
    #: Token text, PHI-free notice text, template variables (JSON) or document bytes.
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    platform_message_id: Mapped[str | None] = mapped_column(String(128))
    last_error_code: Mapped[str | None] = mapped_column(String(64))
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
