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

from medcrypt.crypto.keyless.epochs import epoch_of, format_epoch
from medcrypt.storage.db import Session
from medcrypt.storage.repos import escrow, pairings, tokens

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
    with_messages = tokens.pairings_with_messages(session, current)
    covered = escrow.pairings_with_deposit(session, current)
    rows = pairings.active_physicians(session)
    return [Missing(pid, physician, current) for pid, physician in rows
            if pid in with_messages and pid not in covered]


def notices(missing: list[Missing]) -> list[tuple[str, str]]:
    """(physician identity id, PHI-free text) per uncovered pairing."""
    return [(m.physician_id, TEXT.format(month=format_epoch(m.epoch),
                                         pairing=m.pairing_id[:8])) for m in missing]
