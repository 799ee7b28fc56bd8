"""The bot's periodic duties besides rotation and shredding (which APScheduler runs).

* **Audit checkpoints and their witness.** The checkpointer (the replica holding the
  ``audit_checkpointer`` lease; on SQLite the one bot process) calls
  ``checkpoint_if_due`` on this tick and whenever an append signals that N entries wait
  (ADR 0036); appends never sign. Each checkpoint's witness lines - plain text to every
  admin's chat - are queued in the outbox by :func:`queue_witness_lines`, inside the
  checkpoint's own transaction: a crash between the commit and the send loses nothing,
  and a checkpoint that lost its compare-and-set queues nothing.
* **Break-glass expiry**, on the same tick: requests whose approval window passed
  become ``expired`` (one audit entry each).
* **Daily:** tell physicians whose pairing has messages but no escrow deposit this
  month (once per pairing and day, by the outbox dedupe key, so replicas do not repeat it).
"""

from __future__ import annotations

from datetime import datetime

from medcrypt.bot.domain.audit_chat import witness_post
from medcrypt.bot.domain.breakglass import deposits, requests
from medcrypt.bot.domain.lifecycle.queue import Notice, languages_for, queue_notices
from medcrypt.bot.domain.messages import OutboundMessage, OutKind
from medcrypt.bot.domain.services import Services
from medcrypt.bot.outbox.queue import enqueue
from medcrypt.crypto.server.audit import Checkpoint
from medcrypt.storage.db import Session, SessionFactory
from medcrypt.storage.repos.admins import admin_identity_ids


def admin_identities(ctx: Services, session: Session) -> list[str]:
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
    for channel in ctx.channels.values():
        ids += [ctx.directory.resolve(session, channel.platform, address).identity_id
                for address in channel.config_admins]
    ids += [i for i in admin_identity_ids(session) if i not in ids]
    return ids


def queue_witness_lines(ctx: Services, session: Session, checkpoint: Checkpoint) -> int:
    """Queue one witness message per admin for ``checkpoint``, in ``session`` - the
    checkpoint's own transaction (the audit log's ``on_checkpoint``). Returns the count."""
    if not ctx.settings.audit.post_checkpoints_to_admins:
        return 0
    text_for: dict[str, str] = {}
    admins = admin_identities(ctx, session)
    language = languages_for(session, admins, ctx.settings.clinic.default_language)
    now = ctx.clock.now()
    sent = 0
    for admin in admins:
        lang = language[admin]
        text = text_for.setdefault(lang, witness_post(checkpoint, lang))
        sent += len(enqueue(session, OutboundMessage(
            recipient_id=admin, kind=OutKind.NOTICE, text=text), [text], now))
    return sent


def checkpoint_tick(ctx: Services, now: datetime, *,
                    sessions: SessionFactory | None = None) -> Checkpoint | None:
    """The checkpointer's pass: sign what is due, witness lines queued with each.

    Call only while holding the checkpointer role; ``sessions`` are its fenced ones."""
    return ctx.audit.checkpoint_if_due(now, sessions=sessions)


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
