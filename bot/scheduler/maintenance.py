"""The bot's periodic duties besides rotation and shredding (which APScheduler runs).

* **Audit checkpoints and their witness.** ``checkpoint_if_due`` every few minutes (the
  log signs one every N entries or at least hourly); every checkpoint written - by this
  loop or by an append that crossed the N-entry mark on any thread - is posted as plain
  text to every admin's chat through the outbox. Checkpoints are collected by the audit
  log's ``on_checkpoint`` callback into a thread-safe queue and posted from here, never
  from inside the append's transaction, and only once they are readable from the
  database (an append rolled back with its message leaves no line to post).
* **Break-glass expiry**, on the same tick: requests whose approval window passed
  become ``expired`` (one audit entry each).
* **Daily:** tell physicians whose pairing has messages but no escrow deposit this
  month (once per pairing and day, by the outbox dedupe key, so replicas do not repeat it).
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime

from medcrypt.bot.domain.audit_chat import witness_post
from medcrypt.bot.domain.breakglass import deposits, requests
from medcrypt.bot.domain.lifecycle.queue import Notice, languages_for, queue_notices
from medcrypt.bot.domain.messages import OutboundMessage, OutKind
from medcrypt.bot.domain.services import Services
from medcrypt.bot.outbox.queue import enqueue
from medcrypt.crypto.server.audit import Checkpoint
from medcrypt.storage.repos.admins import admin_identity_ids


class WitnessQueue:
    """Checkpoints announced by the audit log, waiting to be posted (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[Checkpoint] = deque()

    def add(self, checkpoint: Checkpoint) -> None:
        with self._lock:
            self._items.append(checkpoint)

    def drain(self) -> list[Checkpoint]:
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items


def admin_identities(ctx: Services) -> list[str]:
    """Identity ids of every admin: the configured admins of every platform and the
    chat-added admins.

    A configured admin who never wrote to the bot gets an identity now (a sealed
    address, like any sender): the witness must reach them anyway. Where the platform
    will not let the bot write to them yet - a Telegram user who never opened the chat
    (403), a WhatsApp number whose 24-hour window is closed - the outbox holds their
    lines, durably, and their next message releases them (on WhatsApp after the one
    PHI-free template that asks them to write). Nothing is dropped.
    """
    ids: list[str] = []
    with ctx.sessions.begin() as session:
        for channel in ctx.channels.values():
            ids += [ctx.directory.resolve(session, channel.platform, address).identity_id
                    for address in channel.config_admins]
        ids += [i for i in admin_identity_ids(session) if i not in ids]
    return ids


def post_witnesses(ctx: Services, checkpoints: list[Checkpoint], now: datetime) -> int:
    """Queue one witness message per committed checkpoint per admin; returns the count."""
    if not checkpoints or not ctx.settings.audit.post_checkpoints_to_admins:
        return 0
    committed = {(cp.seq, cp.sig) for cp in ctx.audit.checkpoints(
        after_seq=min(c.seq for c in checkpoints) - 1, limit=len(checkpoints) + 1000)}
    real = [cp for cp in checkpoints if (cp.seq, cp.sig) in committed]
    if not real:
        return 0
    admins = admin_identities(ctx)
    sent = 0
    with ctx.sessions.begin() as session:
        language = languages_for(session, admins, ctx.settings.clinic.default_language)
        for cp in sorted(real, key=lambda c: c.seq):
            for admin in admins:
                text = witness_post(cp, language[admin])
                sent += len(enqueue(session, OutboundMessage(
                    recipient_id=admin, kind=OutKind.NOTICE, text=text), [text], now))
    return sent


def checkpoint_tick(ctx: Services, queue: WitnessQueue, now: datetime, *,
                    sign: bool = True) -> int:
    """Sign a checkpoint if one is due (``sign``: this replica holds the checkpointer
    role), then post every checkpoint this process heard of - its own appends' too,
    which no other replica knows about."""
    if sign:
        ctx.audit.checkpoint_if_due(now)
    return post_witnesses(ctx, queue.drain(), now)


def expire_breakglass(ctx: Services) -> int:
    """Expire break-glass requests whose approval window passed (one audit entry each)."""
    ctx.warm()
    with ctx.sessions.begin() as session:
        return requests.expire_due(ctx, session)


def remind_missing_deposits(ctx: Services, now: datetime) -> int:
    """Tell physicians whose pairing has messages this month but no escrow deposit."""
    with ctx.sessions.begin() as session:
        missing = deposits.missing_deposits(session, now)
        day = now.strftime("%Y-%m-%d")
        # The outbox's unique dedupe key makes this once per pairing and day, whichever
        # replica runs it and however often.
        texts = deposits.notices(missing)
        language = languages_for(session, [who for who, _ in texts],
                                 ctx.settings.clinic.default_language)
        return queue_notices(session, [
            Notice(who, m.pairing_id, text.in_(language[who]),
                   f"deposit_missing:{m.pairing_id}:{m.epoch}:{day}")
            for m, (who, text) in zip(missing, texts, strict=True)], now)
