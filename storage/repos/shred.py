"""The deletions of a shred: what the bot stores for (pairing, epoch) targets.

Relayed tokens, escrow deposits (v2 and v3) and cached files carry their pairing and epoch as
columns and go by them. Parts of split tokens and outbox payloads carry them only in
their keyless routing headers, which the caller parses (``bot.domain.lifecycle.purge``):
it reads candidate rows here and deletes the ones it matched by id. Everything runs in
the caller's transaction; ids go ``IN (...)`` at most :data:`ID_CHUNK` at a time.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from medcrypt.storage.models.escrow import EscrowDeposit
from medcrypt.storage.models.media import MediaBlob
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.models.parts import PendingPart
from medcrypt.storage.models.tokens import StoredToken
from medcrypt.storage.models.v3escrow import SegmentDeposit
from medcrypt.storage.repos import outbox_heads

ID_CHUNK = 500
_T = TypeVar("_T")


class PendingPartRow(NamedTuple):
    id: int
    sender_id: str
    group_id: str
    part_index: int
    chunk: bytes
    received_at: datetime


def _chunks(items: Sequence[_T]) -> Iterable[Sequence[_T]]:
    for start in range(0, len(items), ID_CHUNK):
        yield items[start:start + ID_CHUNK]


def _delete_keyed(session: Session,
                  model: type[StoredToken] | type[EscrowDeposit] | type[SegmentDeposit],
                  epoch: int, pairing_ids: Sequence[str]) -> Counter[str]:
    deleted: Counter[str] = Counter()
    for ids in _chunks(pairing_ids):
        where = (model.epoch == epoch, model.pairing_id.in_(ids))
        counts = session.execute(
            select(model.pairing_id, func.count()).where(*where).group_by(model.pairing_id)
        ).all()
        if not counts:
            continue
        for pairing_id, n in counts:
            deleted[str(pairing_id)] += int(n)
        session.execute(delete(model).where(*where))
    return deleted


def delete_tokens(session: Session, epoch: int, pairing_ids: Sequence[str]) -> Counter[str]:
    """Delete the relayed tokens of ``epoch`` of these pairings; count per pairing."""
    return _delete_keyed(session, StoredToken, epoch, pairing_ids)


def delete_deposits(session: Session, epoch: int, pairing_ids: Sequence[str]) -> Counter[str]:
    """Delete the escrow deposits of ``epoch`` of these pairings; count per pairing."""
    return _delete_keyed(session, EscrowDeposit, epoch, pairing_ids)


def delete_segment_deposits(session: Session, epoch: int, pairing_ids: Sequence[str]
                            ) -> Counter[str]:
    """Delete the v3 segment deposits of ``epoch`` of these pairings; count per pairing."""
    return _delete_keyed(session, SegmentDeposit, epoch, pairing_ids)


def delete_media(session: Session, epoch: int, pairing_ids: Sequence[str]) -> Counter[str]:
    """Delete the cached files of ``epoch`` of these pairings, rows and files on disk;
    count per pairing."""
    deleted: Counter[str] = Counter()
    for ids in _chunks(pairing_ids):
        where = (MediaBlob.epoch == epoch, MediaBlob.pairing_id.in_(ids))
        rows = session.execute(select(MediaBlob.pairing_id, MediaBlob.path).where(*where)).all()
        if not rows:
            continue
        for pairing_id, path in rows:
            deleted[str(pairing_id)] += 1
            # Unlink before the rows go: if we die between the two, the next run finds
            # the rows again and the missing file is not an error.
            if path:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        session.execute(delete(MediaBlob).where(*where))
    return deleted


def any_pending_parts(session: Session) -> bool:
    """Whether any multi-part token is waiting to be joined (usually the table is empty)."""
    return session.scalar(select(PendingPart.id).limit(1)) is not None


def parts_of_senders(session: Session, sender_ids: Sequence[str]) -> list[PendingPartRow]:
    """Every waiting part these identities sent."""
    out: list[PendingPartRow] = []
    for ids in _chunks(sorted(set(sender_ids))):
        out.extend(PendingPartRow(*row) for row in session.execute(
            select(PendingPart.id, PendingPart.sender_id, PendingPart.group_id,
                   PendingPart.part_index, PendingPart.chunk, PendingPart.received_at)
            .where(PendingPart.sender_id.in_(ids))))
    return out


def delete_parts(session: Session, part_ids: Sequence[int]) -> None:
    for ids in _chunks(part_ids):
        session.execute(delete(PendingPart).where(PendingPart.id.in_(ids)))


def relayed_outbox_rows(
    session: Session, pairing_ids: Sequence[str]
) -> list[tuple[int, str, bytes]]:
    """(row id, payload kind, payload) of the token and file rows queued for these
    pairings: their payload's routing header names the epoch."""
    out: list[tuple[int, str, bytes]] = []
    for ids in _chunks(sorted(set(pairing_ids))):
        out.extend((int(i), str(k), bytes(p)) for i, k, p in session.execute(
            select(OutboxMessage.id, OutboxMessage.payload_kind, OutboxMessage.payload)
            .where(OutboxMessage.pairing_id.in_(ids),
                   OutboxMessage.payload_kind.in_(("text", "document")))))
    return out


def delete_outbox_rows(session: Session, row_ids: Sequence[int]) -> None:
    """Delete queued rows (their epoch was shredded); their recipients' queue heads move
    on to the next waiting row in the same transaction."""
    dests: set[str] = set()
    for ids in _chunks(row_ids):
        dests.update(session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids))
                                     .returning(OutboxMessage.dest_identity_id)).scalars())
    outbox_heads.changed(session, dests)
