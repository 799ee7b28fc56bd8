"""Encrypted media for WhatsApp: stored once, fetched by Twilio at an expiring URL."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from medcrypt.storage.encrypted import new_id
from medcrypt.storage.models.media import MediaBlob
from medcrypt.storage.repos.pairings import ensure_epoch


def store_media(
    session: Session,
    *,
    pairing_id: str,
    epoch: int,
    data: bytes,
    content_type: str,
    expires_at: datetime,
    now: datetime,
) -> tuple[MediaBlob, str]:
    """Store ciphertext bytes; returns the row and the URL token (shown once, never stored)."""
    ensure_epoch(session, pairing_id, epoch, now=now)
    token = secrets.token_urlsafe(32)
    blob = MediaBlob(
        id=new_id(), pairing_id=pairing_id, epoch=epoch, data=data, path=None,
        content_type=content_type, size=len(data),
        url_token_hash=hashlib.sha256(token.encode("ascii")).digest(),
        created_at=now, expires_at=expires_at,
    )
    session.add(blob)
    session.flush()
    return blob, token


def find_media(session: Session, token: str, *, now: datetime) -> MediaBlob | None:
    """The blob behind a URL token, unless unknown or expired (both look the same)."""
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    blob = session.scalars(select(MediaBlob).where(MediaBlob.url_token_hash == digest)).first()
    if blob is None or blob.expires_at is None or blob.expires_at <= now:
        return None
    return blob


def purge_media(session: Session, *, now: datetime) -> int:
    result = session.execute(delete(MediaBlob).where(MediaBlob.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
