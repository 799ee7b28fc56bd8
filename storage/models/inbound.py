"""Idempotency keys for inbound platform messages.

Platforms redeliver (Telegram after a restart, Twilio on a slow webhook), and anyone who
captured a correctly signed webhook can post it again - Twilio's signature and
Telegram's secret header carry no time. Inserting ``(platform, SHA-256 of the platform's
id)`` first and handling a message only when the insert succeeded makes handling
exactly-once without keeping message content; keeping the keys as long as the audit log
keeps entries (:mod:`bot.domain.retention`) makes a replay a no-op however late it comes.

Plain SHA-256, not a keyed hash: a Twilio MessageSid or a Telegram update id is not
personal data, and a key from the server keyring would change when the keys rotate, so
a replay after a rotation would look new (docs/adr/0010-admin-persons-and-confirmations.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base


class InboundKey(Base):
    __tablename__ = "inbound_keys"
    __table_args__ = (UniqueConstraint("platform", "key_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    #: SHA-256 of the platform's own id of the message (see :mod:`storage.repos.inbound`).
    key_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    received_at: Mapped[datetime] = mapped_column(index=True)
