"""Encrypted files in ``media_blobs``: handed to Telegram as documents, or fetched by
Twilio at an expiring URL whose token only the worker ever sees (the row keeps its
SHA-256).

Rows are written by :func:`storage.repos.outbox.enqueue` together with the outbox row
that delivers them, and deleted with their epoch (:mod:`storage.repos.shred`) or, for
the bot's own documents, once nothing waits for them (:func:`purge_media`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from medcrypt.storage.models.media import MediaBlob
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.repos._sql import rowcount


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def media_data(session: Session, media_id: str) -> bytes | None:
    """The file's bytes, or None when the row is gone (shredded, pruned)."""
    blob = session.get(MediaBlob, media_id)
    return None if blob is None else blob.data


def publish_media(session: Session, media_id: str, token: str, *, expires_at: datetime) -> bool:
    """Make the file fetchable at URL token ``token`` until ``expires_at`` (a new token
    replaces the last one); False when the row is gone."""
    blob = session.get(MediaBlob, media_id)
    if blob is None:
        return False
    blob.url_token_hash = _token_hash(token)
    blob.expires_at = expires_at
    return True


def media_for_url(session: Session, token: str, *, now: datetime) -> bytes | None:
    """The bytes behind a URL token, unless unknown or expired (both look the same)."""
    blob = session.scalars(
        select(MediaBlob).where(MediaBlob.url_token_hash == _token_hash(token))).first()
    if blob is None or blob.expires_at is None or blob.expires_at <= now:
        return None
    return blob.data


def purge_media(session: Session, *, now: datetime) -> int:
    """Delete every file no outbox row waits for any more, once its last URL (if any)
    has expired; returns how many."""
    waiting = select(OutboxMessage.media_id).where(
        OutboxMessage.media_id.is_not(None),
        OutboxMessage.status.in_(("pending", "sending", "held")))
    return rowcount(session.execute(
        delete(MediaBlob).where(
            MediaBlob.id.not_in(waiting),
            or_(MediaBlob.expires_at.is_(None), MediaBlob.expires_at < now))
        .execution_options(synchronize_session=False)))
