"""Retention of what the relay keeps: shredding of relayed tokens, expiry of the rest.

Relayed tokens are kept per epoch (raw bytes, ciphertext) for clinic break-glass until
the epoch is shredded; the shredding job calls :func:`shred_epochs` with the first epoch
that is still readable, in the same transaction as its own deletions. Media of delivered
files, expired media URLs, stale partial tokens and old inbound keys are pruned by
:func:`prune` (idempotent, safe to run from any replica at any time).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from storage.models.bot_relay import (
    BotInboundKey,
    BotMedia,
    BotOutbox,
    BotPendingPart,
    BotRelayedToken,
)

#: Partly received tokens older than this are dropped (the sender is long gone).
PART_TTL = timedelta(days=1)
#: Platforms redeliver for at most a day (Telegram keeps updates 24 h); keys older than
#: a week cannot matter any more.
INBOUND_KEY_TTL = timedelta(days=7)


def shred_epochs(session: Session, *, readable_from: int) -> int:
    """Delete every relayed token of an epoch before ``readable_from``; returns the count."""
    result = session.execute(
        delete(BotRelayedToken).where(BotRelayedToken.epoch < readable_from)
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def prune(session: Session, now: datetime) -> dict[str, int]:
    """Drop what delivery no longer needs. Returns counts per kind."""
    counts: dict[str, int] = {}
    done = select(BotOutbox.media_id).where(
        BotOutbox.media_id.is_not(None),
        BotOutbox.status.in_(("pending", "sending", "held")))
    result = session.execute(
        delete(BotMedia).where(
            BotMedia.id.not_in(done),
            or_(BotMedia.url_expires_at.is_(None), BotMedia.url_expires_at < now))
        .execution_options(synchronize_session=False))
    counts["media"] = int(getattr(result, "rowcount", 0) or 0)
    result = session.execute(
        delete(BotPendingPart).where(BotPendingPart.received_at < now - PART_TTL)
        .execution_options(synchronize_session=False))
    counts["parts"] = int(getattr(result, "rowcount", 0) or 0)
    result = session.execute(
        delete(BotInboundKey).where(BotInboundKey.received_at < now - INBOUND_KEY_TTL)
        .execution_options(synchronize_session=False))
    counts["inbound_keys"] = int(getattr(result, "rowcount", 0) or 0)
    result = session.execute(
        update(BotOutbox).where(BotOutbox.status.in_(("sent", "dead")),
                                BotOutbox.updated_at < now - INBOUND_KEY_TTL)
        .values(body="").execution_options(synchronize_session=False))
    counts["outbox_bodies"] = int(getattr(result, "rowcount", 0) or 0)
    return counts
