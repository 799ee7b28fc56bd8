"""Idempotency keys for inbound platform messages.

Platforms redeliver (Telegram after a restart, Twilio on a slow webhook). Inserting
``(platform, platform_message_id)`` first and relaying only when the insert succeeded
makes handling exactly-once without keeping message content.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base


class InboundKey(Base):
    __tablename__ = "inbound_keys"
    __table_args__ = (UniqueConstraint("platform", "platform_message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    platform_message_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(index=True)
