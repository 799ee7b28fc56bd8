"""Bulk, idempotent enqueueing of the jobs' notices into the outbox.

The outbox's unique ``dedupe_key`` - not a prior SELECT - decides whether a notice was
already queued, so two replicas running the same job queue each notice once
(:func:`storage.repos.outbox.queue_notices`). This module adds the jobs' dedupe key
format (:mod:`bot.domain.lifecycle.notices`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from medcrypt.bot.domain.i18n import SOURCE_LANGUAGE
from medcrypt.bot.domain.lifecycle import notices
from medcrypt.storage.db import Session
from medcrypt.storage.repos import identities, outbox
from medcrypt.storage.repos.outbox import Notice, queue_notices

__all__ = ["Notice", "languages_for", "queue_member_notices", "queue_notices"]


def languages_for(session: Session, identity_ids: Sequence[str],
                  default_language: str) -> dict[str, str]:
    """identity id -> the language to write to them in: stored, else the clinic default
    (for notices queued one by one, each :class:`Notice` in its member's language)."""
    stored = identities.languages_of(session, identity_ids)
    return {i: stored.get(i) or default_language for i in identity_ids}


def queue_member_notices(
    session: Session, kind: str, epoch: int, pairing_ids: Sequence[str], *,
    text: str | Mapping[str, str], now: datetime, default_language: str = SOURCE_LANGUAGE,
) -> int:
    """Queue ``text`` once to each member of each pairing, set-based; returns how many were new.

    The same notices :func:`queue_notices` would queue for
    ``Notice(member, pid, text, notices.dedupe_key(kind, pid, epoch, member))`` - the
    dedupe key is built by the database with the same format - without a row crossing
    into Python and back. Callers group pairings that get the same text (same epoch,
    same grace window).

    ``text`` by language (:mod:`bot.domain.i18n`): each member gets the one of their
    stored language, ``default_language`` for whoever has none stored.
    """
    head, middle = notices.dedupe_affixes(kind, epoch)
    if isinstance(text, str):
        return outbox.queue_member_notices(session, pairing_ids, text=text, dedupe_head=head,
                                           dedupe_middle=middle, now=now)
    return outbox.queue_member_notices(
        session, pairing_ids, text=text[default_language], dedupe_head=head,
        dedupe_middle=middle, now=now, by_language=text, default_language=default_language)
