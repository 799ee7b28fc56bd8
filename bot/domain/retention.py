"""Expiry of what delivery no longer needs: media, stale parts, old keys, sent payloads.

Relayed tokens themselves (``stored_tokens``, ``escrow_deposits``) are kept per epoch for
clinic break-glass and leave with their epoch when the shred job runs
(:mod:`bot.domain.lifecycle.purge`). Everything :func:`prune` removes is only delivery scaffolding;
it is idempotent and safe to run from any replica at any time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from medcrypt.storage.models.inbound import InboundKey
from medcrypt.storage.models.media import MediaBlob
from medcrypt.storage.models.outbox import EarlyReceipt, OutboxMessage
from medcrypt.storage.models.parts import PendingPart

#: Partly received tokens older than this are dropped (the sender is long gone).
PART_TTL = timedelta(days=1)
#: A receipt no sent message claimed within a day never will.
RECEIPT_TTL = timedelta(days=1)
#: Platforms redeliver for at most a day (the longest keeps updates 24 h); keys older than
#: a week cannot matter any more.
INBOUND_KEY_TTL = timedelta(days=7)


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def prune(session: Session, now: datetime) -> dict[str, int]:
    """Drop what delivery no longer needs. Returns counts per kind."""
    counts: dict[str, int] = {}
    waiting = select(OutboxMessage.media_id).where(
        OutboxMessage.media_id.is_not(None),
        OutboxMessage.status.in_(("pending", "sending", "held")))
    # A file nobody waits for any more, once its last URL (if any) has expired.
    counts["media"] = _count(session.execute(
        delete(MediaBlob).where(
            MediaBlob.id.not_in(waiting),
            or_(MediaBlob.expires_at.is_(None), MediaBlob.expires_at < now))
        .execution_options(synchronize_session=False)))
    counts["parts"] = _count(session.execute(
        delete(PendingPart).where(PendingPart.received_at < now - PART_TTL)
        .execution_options(synchronize_session=False)))
    counts["inbound_keys"] = _count(session.execute(
        delete(InboundKey).where(InboundKey.received_at < now - INBOUND_KEY_TTL)
        .execution_options(synchronize_session=False)))
    counts["early_receipts"] = _count(session.execute(
        delete(EarlyReceipt).where(EarlyReceipt.received_at < now - RECEIPT_TTL)
        .execution_options(synchronize_session=False)))
    counts["outbox_bodies"] = _count(session.execute(
        update(OutboxMessage).where(OutboxMessage.status.in_(("sent", "failed")),
                                    OutboxMessage.payload != b"",
                                    OutboxMessage.updated_at < now - INBOUND_KEY_TTL)
        .values(payload=b"").execution_options(synchronize_session=False)))
    return counts
