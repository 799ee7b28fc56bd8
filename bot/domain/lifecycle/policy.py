"""Which epochs of a pairing the relay may still carry: the bot's half of the policy.

The calendar is authoritative (both companions follow it from the pairing's QR policy,
not from the bot), so a token is refused the instant its grace window ends even if the
shred sweep has not run yet; the epoch rows add what the calendar cannot know - an
epoch shredded early by ``/shred`` or ``/delete_me``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from medcrypt.crypto.clock import ensure_utc
from medcrypt.crypto.keyless.epochs import CLOCK_SKEW, MAX_EPOCH, epoch_of, grace_end
from medcrypt.storage.db import Session
from medcrypt.storage.repos.epochs import epoch_state
from medcrypt.storage.repos.pairings import get_pairing

EpochStatus = Literal["active", "retired", "shredded", "future", "unknown"]


def pairing_key(pairing_id: str | bytes) -> str:
    """Pairing ids are stored as 32 lowercase hex characters; accept the raw 16 bytes."""
    if isinstance(pairing_id, bytes):
        return pairing_id.hex()
    key = pairing_id.lower()
    try:
        bytes.fromhex(key)
    except ValueError:
        return ""
    return key


def epoch_status(
    session: Session, pairing_id: str | bytes, epoch: int, now: datetime
) -> EpochStatus:
    """Classify ``epoch`` of ``pairing_id`` at instant ``now``.

    * ``unknown``: no such pairing, or an epoch before the pairing started (or outside
      the calendar) - nothing legitimate can carry it.
    * ``future``: after the month that ``now`` plus :data:`CLOCK_SKEW` falls in. A
      companion enters the next month five minutes early (PROTOCOL §6), so a sender
      whose clock runs up to that much ahead at a month boundary is relayed, as its
      peer's companion would read it.
    * ``shredded``: shredded on demand (``/shred``, ``/delete_me``), or past its grace end
      (whether or not the sweep has deleted the rows yet).
    * ``retired``: an earlier month still inside its grace window.
    * ``active``: the current month (or the next one, inside the tolerance).

    """
    key = pairing_key(pairing_id)
    pairing = get_pairing(session, key) if key else None
    if pairing is None:
        return "unknown"
    return classify(pairing, epoch, epoch_state(session, pairing.pairing_id, epoch), now)


class PairingTerms(Protocol):
    """What the policy needs of a pairing (a pairing record or the relay's route view)."""

    @property
    def start_epoch(self) -> int: ...

    @property
    def grace_days(self) -> int: ...


def classify(pairing: PairingTerms, epoch: int, state: str | None,
             now: datetime) -> EpochStatus:
    """:func:`epoch_status` for a caller that already loaded the pairing and the epoch
    row's ``state`` (None: no row yet) - the relay does both in one query per message."""
    now = ensure_utc(now)
    if not 0 <= epoch < MAX_EPOCH or epoch < pairing.start_epoch:
        return "unknown"
    if epoch > epoch_of(now + CLOCK_SKEW):
        return "future"
    if now >= grace_end(epoch, pairing.grace_days) or state == "shredded":
        return "shredded"
    return "retired" if epoch < epoch_of(now) else "active"
