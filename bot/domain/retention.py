"""Expiry of what delivery no longer needs: media, stale parts, old keys, sent payloads.

Relayed tokens themselves (``stored_tokens``, ``escrow_deposits``) are kept per epoch for
clinic break-glass and leave with their epoch when the shred job runs
(:mod:`bot.domain.lifecycle.purge`). Everything :func:`prune` removes is only delivery
scaffolding; it is idempotent and safe to run from any replica at any time.

Inbound idempotency keys are not scaffolding. Twilio's signature and Telegram's secret
header carry no time, so a webhook captured today is still correctly signed next year;
its key is all that tells the bot it was handled already. They are kept at least as
long as the audit log keeps the entries such a message caused, and never less than
:data:`INBOUND_KEY_MIN_TTL` (docs/adr/0010-admin-persons-and-confirmations.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from medcrypt.storage.db import Session
from medcrypt.storage.repos.admissions import purge_expired as purge_pending_accepts
from medcrypt.storage.repos.confirmations import purge as purge_confirmations
from medcrypt.storage.repos.fragments import purge_fragments
from medcrypt.storage.repos.inbound import purge_inbound
from medcrypt.storage.repos.media import purge_media
from medcrypt.storage.repos.outbox import clear_sent_payloads, purge_receipts
from medcrypt.storage.repos.tokens import purge_parts

#: Partly received tokens older than this are dropped (the sender is long gone).
PART_TTL = timedelta(days=1)
#: Pieces of a split paste wait seconds for the rest (bot.relay.fragments.WINDOW); a
#: run older than this was guarded already and only its rows are left.
FRAGMENT_TTL = timedelta(minutes=1)
#: A receipt no sent message claimed within a day never will.
RECEIPT_TTL = timedelta(days=1)
#: Texts of sent messages are kept a week (redelivery and receipts are long over).
SENT_PAYLOAD_TTL = timedelta(days=7)
#: How long the audit log keeps an entry: None, for ever. It is append-only, and erasing
#: a person crypto-shreds the details of their entries without deleting any
#: (docs/adr/0004-audit-log.md).
AUDIT_LOG_RETENTION: timedelta | None = None
#: The least an inbound key is kept, whatever the audit log's retention: longer than
#: any plausible capture-and-replay, and a year's seasonal traffic.
INBOUND_KEY_MIN_TTL = timedelta(days=400)
#: A used or expired confirmation code is kept a day, so a late attempt is told the code
#: was used or expired rather than unknown; after that it is unknown, which refuses it
#: just the same.
CONFIRMATION_KEEP = timedelta(days=1)


def inbound_key_ttl(audit_retention: timedelta | None = AUDIT_LOG_RETENTION
                    ) -> timedelta | None:
    """How long inbound keys are kept: as long as the audit log keeps entries (None: for
    ever) and never less than :data:`INBOUND_KEY_MIN_TTL`."""
    if audit_retention is None:
        return None
    return max(audit_retention, INBOUND_KEY_MIN_TTL)


def prune(session: Session, now: datetime) -> dict[str, int]:
    """Drop what delivery no longer needs. Returns counts per kind."""
    key_ttl = inbound_key_ttl()
    return {
        # A file nobody waits for any more, once its last URL (if any) has expired.
        "media": purge_media(session, now=now),
        "parts": purge_parts(session, older_than=now - PART_TTL),
        "fragments": purge_fragments(session, older_than=now - FRAGMENT_TTL),
        "inbound_keys": 0 if key_ttl is None else purge_inbound(
            session, older_than=now - key_ttl),
        "confirmations": purge_confirmations(session,
                                             expired_before=now - CONFIRMATION_KEEP),
        "early_receipts": purge_receipts(session, older_than=now - RECEIPT_TTL),
        "outbox_bodies": clear_sent_payloads(session, older_than=now - SENT_PAYLOAD_TTL),
        # v3 accepts waiting for a confirmation expire with their offer (PROTOCOL §34.2).
        "pending_accepts": purge_pending_accepts(session, now=now),
    }
