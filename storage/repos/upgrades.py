"""v2 -> v3 upgrade rows: the offer the relay carried and whether it was answered.

Decisions are taken with the pairing row locked (PostgreSQL ``FOR UPDATE``; SQLite
serialises writers), so an answer racing a new offer in another replica either names
the offer that is stored or is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from medcrypt.crypto.errors import WrongPairing
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.models.upgrades import PairingUpgrade
from medcrypt.storage.repos._sql import insert_if_absent, rowcount

_UPGRADES: Table = PairingUpgrade.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Upgrade:
    offer_hash: bytes
    offer_expires_at: datetime
    upgraded_at: datetime | None


def _lock(session: Session, pairing_id: str) -> None:
    if session.get(Pairing, pairing_id, with_for_update=True) is None:
        raise WrongPairing("unknown pairing")


def upgrade_of(session: Session, pairing_id: str) -> Upgrade | None:
    """The pairing's upgrade row; None when no upgrade was ever offered."""
    row = session.execute(select(PairingUpgrade.offer_hash, PairingUpgrade.offer_expires_at,
                                 PairingUpgrade.upgraded_at)
                          .where(PairingUpgrade.pairing_id == pairing_id)).first()
    return None if row is None else Upgrade(bytes(row[0]), row[1], row[2])


def record_offer(session: Session, pairing_id: str, *, offer_hash: bytes,
                 expires_at: datetime, now: datetime) -> bool:
    """Store the offer the relay carries: a new row, or one replacing an unanswered
    offer.  False when the pairing was already upgraded (nothing changes)."""
    _lock(session, pairing_id)
    if insert_if_absent(session, _UPGRADES, {
            "pairing_id": pairing_id, "offer_hash": offer_hash, "offered_at": now,
            "offer_expires_at": expires_at, "upgraded_at": None}):
        return True
    result = session.execute(
        update(PairingUpgrade)
        .where(PairingUpgrade.pairing_id == pairing_id, PairingUpgrade.upgraded_at.is_(None))
        .values(offer_hash=offer_hash, offered_at=now, offer_expires_at=expires_at)
        .execution_options(synchronize_session=False))
    return rowcount(result) > 0


def mark_upgraded(session: Session, pairing_id: str, *, offer_hash: bytes,
                  now: datetime) -> bool:
    """Mark the pairing v3 if ``offer_hash`` names its stored, unexpired, unanswered
    offer; False otherwise (nothing changes)."""
    _lock(session, pairing_id)
    result = session.execute(
        update(PairingUpgrade)
        .where(PairingUpgrade.pairing_id == pairing_id, PairingUpgrade.upgraded_at.is_(None),
               PairingUpgrade.offer_hash == offer_hash, PairingUpgrade.offer_expires_at > now)
        .values(upgraded_at=now).execution_options(synchronize_session=False))
    return rowcount(result) > 0
