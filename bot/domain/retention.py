"""Expiry of what delivery no longer needs: media, stale parts, old keys, sent payloads.

Relayed tokens themselves (``stored_tokens``, ``escrow_deposits``) are kept per epoch for
clinic break-glass and leave with their epoch when the shred job runs
(:mod:`bot.domain.lifecycle.purge`). Everything :func:`prune` removes is only delivery scaffolding;
it is idempotent and safe to run from any replica at any time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from medcrypt.storage.db import Session
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
#: Platforms redeliver for at most a day (the longest keeps updates 24 h); keys older than
#: a week cannot matter any more.
INBOUND_KEY_TTL = timedelta(days=7)


def prune(session: Session, now: datetime) -> dict[str, int]:
    """Drop what delivery no longer needs. Returns counts per kind."""
    return {
        # A file nobody waits for any more, once its last URL (if any) has expired.
        "media": purge_media(session, now=now),
        "parts": purge_parts(session, older_than=now - PART_TTL),
        "fragments": purge_fragments(session, older_than=now - FRAGMENT_TTL),
        "inbound_keys": purge_inbound(session, older_than=now - INBOUND_KEY_TTL),
        "early_receipts": purge_receipts(session, older_than=now - RECEIPT_TTL),
        "outbox_bodies": clear_sent_payloads(session, older_than=now - INBOUND_KEY_TTL),
    }
