"""Exactly-once handling of inbound platform messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from medcrypt.storage.models.inbound import InboundKey
from medcrypt.storage.repos._sql import insert_if_absent


def record_inbound(
    session: Session, platform: str, platform_message_id: str, *, now: datetime
) -> bool:
    """True the first time this platform message is seen; False for a redelivery."""
    return insert_if_absent(
        session,
        InboundKey.__table__,  # type: ignore[arg-type]
        {"platform": platform, "platform_message_id": platform_message_id, "received_at": now},
    )


def purge_inbound(session: Session, *, older_than: datetime) -> int:
    """Forget keys older than any platform's redelivery window."""
    result = session.execute(delete(InboundKey).where(InboundKey.received_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
