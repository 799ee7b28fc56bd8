"""Pieces of split pastes (``pending_fragments``): one open run per sender at a time.

The relay (:mod:`bot.relay.fragments`) decides; these statements only keep the pieces.
Telegram's poller is one process at a time, so a sender's pieces arrive in order and
one by one; the unique key still makes a redelivered piece a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from medcrypt.storage.models.fragments import PendingFragment
from medcrypt.storage.repos._sql import insert_if_absent, rowcount

_FRAGMENTS: Table = PendingFragment.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Run:
    """A sender's unfinished paste: its pieces in order, and when the last one came."""

    run_id: str
    texts: list[str]
    last_at: datetime


def open_run(session: Session, sender_id: str) -> Run | None:
    """The sender's latest unfinished paste, if any."""
    rows = list(session.execute(
        select(PendingFragment.run_id, PendingFragment.seq, PendingFragment.text,
               PendingFragment.received_at)
        .where(PendingFragment.sender_id == sender_id)
        .order_by(PendingFragment.received_at.desc(), PendingFragment.seq.desc())))
    if not rows:
        return None
    run_id = str(rows[0][0])
    mine = sorted((int(seq), bytes(text).decode("ascii"), at)
                  for rid, seq, text, at in rows if rid == run_id)
    return Run(run_id, [text for _seq, text, _at in mine], max(at for *_rest, at in mine))


def add_piece(session: Session, *, sender_id: str, run_id: str, seq: int, text: str,
              now: datetime) -> bool:
    """Keep one piece; False if this position of the run was already kept."""
    return insert_if_absent(session, _FRAGMENTS, {
        "sender_id": sender_id, "run_id": run_id, "seq": seq,
        "text": text.encode("ascii"), "received_at": now})


def drop_runs(session: Session, sender_id: str) -> int:
    """Forget every piece the sender has pending; returns how many."""
    return rowcount(session.execute(
        delete(PendingFragment).where(PendingFragment.sender_id == sender_id)))


def purge_fragments(session: Session, *, older_than: datetime) -> int:
    """Drop pieces of pastes that stopped before ``older_than``; returns how many."""
    return rowcount(session.execute(
        delete(PendingFragment).where(PendingFragment.received_at < older_than)
        .execution_options(synchronize_session=False)))
