"""Exactly-once handling of inbound platform messages (``inbound_keys``).

Callers pass the platform's own id of a message (a Twilio MessageSid, a Telegram update
id); only its SHA-256 is stored, so no caller can put anything else in the table by
mistake (storage/models/inbound.py says why plain SHA-256).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.orm import Session

from medcrypt.storage.models.inbound import InboundKey
from medcrypt.storage.repos._sql import conflict_free, rowcount

_INBOUND: Table = InboundKey.__table__  # type: ignore[assignment]
#: Built once per dialect: every inbound message runs it first.
_RECORD = conflict_free(_INBOUND)
_SEEN = select(_INBOUND.c.id).where(_INBOUND.c.platform == bindparam("platform"),
                                    _INBOUND.c.key_sha256 == bindparam("key"))


def inbound_key(platform_id: str) -> bytes:
    """What is stored for a platform's message id: its SHA-256."""
    return hashlib.sha256(platform_id.encode("utf-8")).digest()


def record_inbound(session: Session, platform: str, platform_id: str, *,
                   now: datetime) -> bool:
    """True the first time this platform message is seen; False for a redelivery or a
    replay.

    The unique key decides, not a prior SELECT: one statement per message, and two
    concurrent deliveries of one id cannot both get past it (the second waits for the
    first's transaction and then inserts nothing).
    """
    conn = session.connection()
    return conn.execute(_RECORD[conn.dialect.name], {
        "platform": platform, "key_sha256": inbound_key(platform_id),
        "received_at": now}).first() is not None


def seen(session: Session, platform: str, platform_id: str) -> bool:
    """Whether this platform message was recorded already."""
    return session.connection().execute(
        _SEEN, {"platform": platform, "key": inbound_key(platform_id)}).first() is not None


def purge_inbound(session: Session, *, older_than: datetime) -> int:
    """Forget keys recorded before ``older_than`` (the caller's retention decides)."""
    return rowcount(session.execute(
        delete(InboundKey).where(InboundKey.received_at < older_than)
        .execution_options(synchronize_session=False)))
