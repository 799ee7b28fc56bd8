"""Monthly epoch keys: a one-way HKDF ratchet that follows the UTC calendar.

``K_start = HKDF(root, "MEDCRYPT v2 epoch 0" || u32(start))`` and
``K_{e+1} = HKDF(K_e, "MEDCRYPT v2 epoch advance" || u32(e+1))`` where ``e`` is the
absolute month number (crypto/keyless/epochs.py).  Because the step is one-way, deleting ``K_e``
makes epoch ``e`` unreadable for ever; because it follows the calendar, both companions
agree on the current key without talking to each other or trusting the bot.

The schedule keeps exactly one epoch key: the seed of the next epoch to enter.  When
an epoch is entered, its key is handed to the caller (which derives that epoch's chain
keys and, if escrow is configured, seals the deposit) and the schedule immediately
derives the following seed - so a device taken in the middle of a month holds neither
the current epoch key nor anything that re-derives a used message key.  Epochs are
shredded (forgotten, recorded with the time) once their grace window has ended; a device
that was offline for months catches up by ratcheting through the missed epochs, entering
only those still inside their grace window.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import ensure_utc
from medcrypt.crypto.errors import EpochNotYet, EpochShredded, StorageError, WrongPairing
from medcrypt.crypto.keyless.epochs import (
    CLOCK_SKEW,
    MAX_EPOCH,
    MAX_GRACE_DAYS,
    epoch_of,
    epoch_start,
    format_epoch,
    grace_end,
)

LABEL_EPOCH0 = b"MEDCRYPT v2 epoch 0"
LABEL_ADVANCE = b"MEDCRYPT v2 epoch advance"
_U32 = struct.Struct(">I")


def initial_epoch_key(root: bytes | bytearray, start_epoch: int) -> bytes:
    """The key of the pairing's first epoch, from the pairing root."""
    return prim.hkdf_sha256(root, salt=None, info=LABEL_EPOCH0 + _U32.pack(start_epoch))


def advance_epoch_key(key: bytes | bytearray, next_epoch: int) -> bytes:
    """One step of the one-way epoch ratchet: ``K_e`` -> ``K_{e+1}`` (``next_epoch = e+1``)."""
    return prim.hkdf_sha256(key, salt=None, info=LABEL_ADVANCE + _U32.pack(next_epoch))


def epoch_key_at(start_key: bytes, start_epoch: int, epoch: int) -> bytes:
    """``K_epoch`` from ``K_start`` (vectors, break-glass tooling, tests)."""
    if epoch < start_epoch:
        raise WrongPairing("epoch precedes the pairing")
    key = start_key
    for e in range(start_epoch + 1, epoch + 1):
        key = advance_epoch_key(key, e)
    return key


@dataclass(slots=True)
class Advance:
    """What one call to :meth:`EpochSchedule.advance` did."""

    entered: list[tuple[int, bytearray]] = field(default_factory=list)
    shredded: list[int] = field(default_factory=list)


@dataclass(slots=True)
class EpochSchedule:
    """Calendar bookkeeping of one pairing: seed key, live epochs, shredded epochs."""

    start_epoch: int
    grace_days: int
    next_epoch: int
    next_key: bytearray
    live: set[int] = field(default_factory=set)
    shredded: dict[int, str] = field(default_factory=dict)
    #: Cached instant of the next calendar event (entry or shred); not persisted.
    _next_event: datetime | None = field(default=None, init=False, repr=False, compare=False)

    def _compute_next_event(self) -> datetime:
        events = [grace_end(e, self.grace_days) for e in self.live]
        if self.next_epoch < MAX_EPOCH:
            events.append(epoch_start(self.next_epoch) - CLOCK_SKEW)
        return min(events) if events else datetime.max.replace(tzinfo=UTC)

    @classmethod
    def begin(
        cls, start_key: bytes | bytearray, start_epoch: int, grace_days: int,
    ) -> EpochSchedule:
        if not 0 <= grace_days <= MAX_GRACE_DAYS:
            raise WrongPairing(f"grace window of {grace_days} days is not allowed")
        return cls(start_epoch, grace_days, start_epoch, bytearray(start_key))

    def advance(self, now: datetime) -> Advance:
        """Enter every epoch up to ``now``'s and shred those past their grace window.

        The caller owns (and must wipe) the epoch keys in ``entered``.
        """
        now = ensure_utc(now)
        result = Advance()
        if self._next_event is None:
            self._next_event = self._compute_next_event()
        if now < self._next_event:
            return result  # the common case: nothing to enter or shred
        self._next_event = None
        target = epoch_of(now + CLOCK_SKEW)
        stamp = now.isoformat()
        while self.next_epoch <= target:
            epoch, key = self.next_epoch, self.next_key
            self.next_key = bytearray(advance_epoch_key(key, epoch + 1))
            self.next_epoch = epoch + 1
            if now >= grace_end(epoch, self.grace_days):
                prim.wipe(key)
                self.shredded[epoch] = stamp
                result.shredded.append(epoch)
            else:
                self.live.add(epoch)
                result.entered.append((epoch, key))
        for epoch in sorted(self.live):
            if now >= grace_end(epoch, self.grace_days):
                self.live.discard(epoch)
                self.shredded[epoch] = stamp
                result.shredded.append(epoch)
        result.shredded.sort()
        return result

    def current(self, now: datetime) -> int:
        """The epoch a message sent at ``now`` uses (it must be live)."""
        epoch = epoch_of(now)
        self.check(epoch, now)
        return epoch

    def check(self, epoch: int, now: datetime) -> None:
        """Raise the policy error explaining why ``epoch`` cannot be used, if it cannot."""
        if epoch in self.live:
            if epoch > epoch_of(now + CLOCK_SKEW):
                raise EpochNotYet(f"epoch {format_epoch(epoch)} has not started yet")
            return
        if epoch < self.start_epoch:
            raise WrongPairing(f"epoch {format_epoch(epoch)} precedes this pairing")
        when = self.shredded.get(epoch)
        if when is not None:
            raise EpochShredded(
                f"epoch {format_epoch(epoch)} was shredded at {when} "
                f"(grace ended {grace_end(epoch, self.grace_days).isoformat()})")
        raise EpochNotYet(f"epoch {format_epoch(epoch)} has not started yet")

    def export(self) -> dict[str, Any]:
        return {
            "start_epoch": self.start_epoch,
            "grace_days": self.grace_days,
            "next_epoch": self.next_epoch,
            "next_key": prim.b64e(self.next_key),
            "live": sorted(self.live),
            "shredded": {str(e): when for e, when in sorted(self.shredded.items())},
        }

    @classmethod
    def load(cls, state: dict[str, Any]) -> EpochSchedule:
        try:
            if not 0 <= int(state["grace_days"]) <= MAX_GRACE_DAYS:
                raise StorageError("epoch schedule state has an invalid grace window")
            return cls(
                start_epoch=int(state["start_epoch"]),
                grace_days=int(state["grace_days"]),
                next_epoch=int(state["next_epoch"]),
                next_key=bytearray(prim.b64d(state["next_key"], 32)),
                live={int(e) for e in state["live"]},
                shredded={int(e): str(w) for e, w in state["shredded"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise StorageError("epoch schedule state is damaged") from None

    def wipe(self) -> None:
        prim.wipe(self.next_key)
