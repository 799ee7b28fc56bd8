"""Relay tokens and partly received multi-part tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from medcrypt.crypto.errors import LimitExceeded, MalformedToken
from medcrypt.storage.models.parts import PendingPart
from medcrypt.storage.models.tokens import StoredToken
from medcrypt.storage.repos.pairings import ensure_epoch


def store_token(
    session: Session,
    *,
    pairing_id: str,
    epoch: int,
    direction: int,
    msg_index: int,
    kind: int,
    raw: bytes,
    now: datetime,
) -> StoredToken:
    """Keep a relayed token's raw bytes until its epoch is shredded."""
    ensure_epoch(session, pairing_id, epoch, now=now)
    token = StoredToken(
        pairing_id=pairing_id, epoch=epoch, direction=direction, msg_index=msg_index,
        kind=kind, raw=raw, received_at=now,
    )
    session.add(token)
    session.flush()
    return token


def tokens_of_epoch(session: Session, pairing_id: str, epoch: int) -> list[StoredToken]:
    stmt = (
        select(StoredToken)
        .where(StoredToken.pairing_id == pairing_id, StoredToken.epoch == epoch)
        .order_by(StoredToken.id)
    )
    return list(session.scalars(stmt))


def add_part(
    session: Session,
    *,
    sender_id: str,
    group_id: str,
    part_index: int,
    part_count: int,
    chunk: bytes,
    now: datetime,
    max_pending_per_sender: int = 256,
) -> list[bytes] | None:
    """Store one part; when the group is complete return its chunks in order and drop them.

    A repeated part (platform redelivery) is ignored. ``max_pending_per_sender`` bounds
    how much half-finished data one sender can park on the server.
    """
    if not 0 <= part_index < part_count:
        raise MalformedToken("part index outside its count")
    group = (PendingPart.sender_id == sender_id) & (PendingPart.group_id == group_id)
    known = list(session.scalars(select(PendingPart).where(group)))
    if any(p.part_count != part_count for p in known):
        raise MalformedToken("parts of one group disagree on the count")
    if all(p.part_index != part_index for p in known):
        pending = session.scalar(
            select(func.count()).select_from(PendingPart).where(PendingPart.sender_id == sender_id)
        )
        if (pending or 0) >= max_pending_per_sender:
            raise LimitExceeded("too many unfinished multi-part messages")
        session.add(PendingPart(
            sender_id=sender_id, group_id=group_id, part_index=part_index,
            part_count=part_count, chunk=chunk, received_at=now,
        ))
        session.flush()
    parts = list(session.scalars(
        select(PendingPart).where(group).order_by(PendingPart.part_index)
    ))
    if len(parts) < part_count:
        return None
    chunks = [p.chunk for p in parts]
    session.execute(delete(PendingPart).where(group))
    session.flush()
    return chunks


def purge_parts(session: Session, *, older_than: datetime) -> int:
    """Drop parts whose group never completed; returns how many were removed."""
    result = session.execute(delete(PendingPart).where(PendingPart.received_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
