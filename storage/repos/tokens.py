"""Relayed tokens (``stored_tokens``, kept per epoch for break-glass until shredded) and
partly received multi-part tokens (``pending_parts``)."""

from __future__ import annotations

import hmac
from datetime import datetime

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.orm import Session

from medcrypt.crypto.errors import LimitExceeded, MalformedToken
from medcrypt.storage.models.parts import PendingPart
from medcrypt.storage.models.tokens import StoredToken
from medcrypt.storage.repos._sql import insert_if_absent, rowcount

_TOKENS: Table = StoredToken.__table__  # type: ignore[assignment]
_PARTS: Table = PendingPart.__table__  # type: ignore[assignment]
#: Built once: every relayed message is stored.
_STORE = insert(_TOKENS)


class PartConflict(MalformedToken):
    """A part claims a position of its group that already holds other bytes.

    PROTOCOL §3.4: such a part MUST be rejected. Keeping the first silently would let a
    sender believe the second went out; the caller tells the sender and audits it.
    """


def store_relayed(
    session: Session,
    *,
    pairing_id: str,
    epoch: int,
    direction: int,
    msg_index: int,
    kind: int,
    raw: bytes,
    now: datetime,
) -> None:
    """Keep a relayed token's raw bytes until its epoch is shredded (its epoch row must
    exist: :func:`storage.repos.epochs.ensure_epoch`)."""
    session.connection().execute(_STORE, {
        "pairing_id": pairing_id, "epoch": epoch, "direction": direction,
        "msg_index": msg_index, "kind": kind, "raw": raw, "received_at": now})


def relayed_raw(session: Session, pairing_id: str, kind: int) -> list[bytes]:
    """Raw bytes of the stored tokens of one kind for a pairing, in arrival order."""
    return list(session.scalars(
        select(StoredToken.raw).where(StoredToken.pairing_id == pairing_id,
                                      StoredToken.kind == kind)
        .order_by(StoredToken.id)))


def pairings_with_messages(session: Session, epoch: int) -> set[str]:
    """Pairings that relayed at least one token in ``epoch``."""
    return {str(p) for p in session.scalars(select(StoredToken.pairing_id).where(
        StoredToken.epoch == epoch).distinct())}


def collect_part(
    session: Session,
    *,
    sender_id: str,
    group_id: str,
    part_index: int,
    part_count: int,
    chunk: bytes,
    now: datetime,
    max_pending_groups: int,
) -> list[bytes] | None:
    """Store one part; when the group is complete return its chunks in order and drop them.

    None while parts are missing, and for an identical repeated part (a platform
    redelivery, a user resending it, or a concurrent delivery of the same part: the
    unique key decides). Raises :class:`LimitExceeded` when a new group would exceed
    ``max_pending_groups`` unfinished groups of one sender (how much half-finished data a
    sender can park), :class:`PartConflict` when the position already holds other bytes
    (the stored part stays), and :class:`MalformedToken` when the part contradicts its
    group's count.
    """
    if not 0 <= part_index < part_count:
        raise MalformedToken("part index outside its count")
    groups = session.scalar(select(func.count(func.distinct(PendingPart.group_id))).where(
        PendingPart.sender_id == sender_id))
    same_group = (PendingPart.sender_id == sender_id, PendingPart.group_id == group_id)
    existing = list(session.execute(
        select(PendingPart.part_index, PendingPart.part_count, PendingPart.chunk)
        .where(*same_group)))
    if not existing and (groups or 0) >= max_pending_groups:
        raise LimitExceeded("too many unfinished multi-part messages")
    held = next((data for index, _count, data in existing if index == part_index), None)
    if held is not None:
        _check_same_part(held, chunk)
        return None
    if any(count != part_count for _index, count, _chunk in existing):
        raise MalformedToken("parts of one group disagree on the count")
    # The raw chunk, not the text: part 0 starts with the whole token's header, which is
    # how the shred job finds the parts of an epoch without a key.
    if not insert_if_absent(session, _PARTS, {
            "sender_id": sender_id, "group_id": group_id, "part_index": part_index,
            "part_count": part_count, "chunk": chunk, "received_at": now}):
        # Another delivery filled the position between our read and our insert (and may
        # have completed the group since: then there is nothing left to compare).
        raced = session.scalar(select(PendingPart.chunk).where(
            *same_group, PendingPart.part_index == part_index))
        if raced is not None:
            _check_same_part(raced, chunk)
        return None
    if len(existing) + 1 < part_count:
        return None
    chunks = {index: data for index, _count, data in existing}
    chunks[part_index] = chunk
    session.execute(delete(PendingPart).where(*same_group))
    return [chunks[i] for i in range(part_count)]


def _check_same_part(held: bytes, chunk: bytes) -> None:
    """An identical copy changes nothing; other bytes at a filled position are refused."""
    if not hmac.compare_digest(held, chunk):
        raise PartConflict("two different parts claim the same position")


def purge_parts(session: Session, *, older_than: datetime) -> int:
    """Drop parts whose group never completed; returns how many were removed."""
    return rowcount(session.execute(
        delete(PendingPart).where(PendingPart.received_at < older_than)
        .execution_options(synchronize_session=False)))


def drop_parts_of(session: Session, sender_id: str) -> int:
    """Delete every part ``sender_id`` sent (erasure); returns how many."""
    return rowcount(session.execute(delete(PendingPart).where(PendingPart.sender_id == sender_id)))
