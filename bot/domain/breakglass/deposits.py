"""Escrow deposits, bot side: whose slot a deposit may fill, and is every month covered.

**Slots** (issue 12). A deposit's clear header names a direction, and the bot keeps one
deposit per pairing, month and direction - the direction is the *slot*. Anyone can seal
to the clinic's public escrow key, so the header's direction proves nothing about who
made the deposit; only the sender does. :func:`slot_refusal` therefore accepts a deposit
only in the slot of the member who sent it (the physician's in physician-to-patient, the
patient's in patient-to-physician). Without it a patient could seal a random key under
the physician's direction before the physician's companion deposited: the bot kept it
(first one wins) and break-glass found two deposits of one month that disagree. The
refusal is audited with its reason only. Deposits signed by the sender's identity key,
which the opener can check without trusting the bot, are the protocol issue's (v3).

**Coverage** (issue 7: tell the physician if not).

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

from medcrypt.bot.domain import notices as replies
from medcrypt.bot.domain.i18n import N_, Msg, msg
from medcrypt.bot.domain.pairings import Members, Refusal, role_of
from medcrypt.crypto.keyless.epochs import epoch_of, format_epoch
from medcrypt.crypto.keyless.wire import Direction
from medcrypt.storage.db import Session
from medcrypt.storage.repos import escrow, pairings, tokens, v3escrow

TEXT = N_("No escrow deposit for {month} has reached the clinic for your conversation "
          "{pairing}. Emergency access could not open this month. Please run "
          "`medcrypt deposits` in your companion and send what it prints to this chat.")


#: The slot a member's own deposit fills: the direction that member writes in.
SLOT_OF_ROLE = {"physician": Direction.PHYSICIAN_TO_PATIENT,
                "patient": Direction.PATIENT_TO_PHYSICIAN}


def slot_refusal(pairing: Members, sender_id: str, direction: Direction | None
                 ) -> Refusal | None:
    """None when ``direction`` is the sender's own slot in ``pairing``, else the refusal."""
    role = role_of(pairing, sender_id)
    if role is not None and direction is SLOT_OF_ROLE[role]:
        return None
    return Refusal("deposit_not_senders_slot", msg(replies.DEPOSIT_NOT_YOURS))


@dataclass(frozen=True)
class Missing:
    pairing_id: str
    physician_id: str
    epoch: int


def missing_deposits(session: Session, now: datetime) -> list[Missing]:
    """Active pairings with messages but no deposit in the current month."""
    current = epoch_of(now)
    with_messages = tokens.pairings_with_messages(session, current)
    # A v3 pairing's deposits ride in its tokens and are kept per segment (ADR 0026).
    covered = (escrow.pairings_with_deposit(session, current)
               | v3escrow.pairings_with_deposit(session, current))
    rows = pairings.active_physicians(session)
    return [Missing(pid, physician, current) for pid, physician in rows
            if pid in with_messages and pid not in covered]


def notices(missing: list[Missing]) -> list[tuple[str, Msg]]:
    """(physician identity id, PHI-free text) per uncovered pairing, to be written in the
    physician's language."""
    return [(m.physician_id, msg(TEXT, month=format_epoch(m.epoch),
                                 pairing=m.pairing_id[:8])) for m in missing]
