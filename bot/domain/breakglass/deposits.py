"""Is every active month covered by an escrow deposit? (issue 7: tell the physician if not)

The bot cannot check a deposit's contents - it is sealed to the escrow key - only that
one exists. A month in which a pairing relayed messages but no deposit arrived is a
month break-glass could never open: usually an outdated companion or a deposit lost
in transit. The physician's companion re-sends it with ``medcrypt deposits``.

:func:`missing_deposits` is keyless and read-only; a periodic job (daily is enough)
queues :func:`notices` for the physicians.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from medcrypt.crypto.keyless.epochs import epoch_of, format_epoch
from medcrypt.storage.models.escrow import EscrowDeposit
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.models.tokens import StoredToken

TEXT = ("No escrow deposit for {month} has reached the clinic for your conversation "
        "{pairing}. Emergency access could not open this month. Please run "
        "`medcrypt deposits` in your companion and send what it prints to this chat.")


@dataclass(frozen=True)
class Missing:
    pairing_id: str
    physician_id: str
    epoch: int


def missing_deposits(session: Session, now: datetime) -> list[Missing]:
    """Active pairings with messages but no deposit in the current month."""
    current = epoch_of(now)
    with_messages = set(session.scalars(select(StoredToken.pairing_id).where(
        StoredToken.epoch == current).distinct()))
    covered = set(session.scalars(
        select(EscrowDeposit.pairing_id).where(EscrowDeposit.epoch == current).distinct()))
    rows = session.execute(select(Pairing.pairing_id, Pairing.physician_id).where(
        Pairing.status == "active")).all()
    return [Missing(pid, physician, current) for pid, physician in rows
            if pid in with_messages and pid not in covered]


def notices(missing: list[Missing]) -> list[tuple[str, str]]:
    """(physician identity id, PHI-free text) per uncovered pairing."""
    return [(m.physician_id, TEXT.format(month=format_epoch(m.epoch),
                                         pairing=m.pairing_id[:8])) for m in missing]
