"""/delete_me: erase the sender's identity (sealed address), pairings and queued messages.

Relayed tokens of past pairings stay until their epoch is shredded: they are ciphertext
the bot cannot open, kept only for clinic break-glass, and shredding removes them on the
normal schedule. The goodbye is sent directly, because the outbox rows addressed to the
sender are deleted with the identity.
"""

from __future__ import annotations

from sqlalchemy import delete

from bot.commands.unpair import end_pairings
from bot.relay import notices
from bot.relay.context import Context
from storage.models.bot_relay import BotIdentity

NAME = "delete_me"
ADMIN = False
USAGE = "/delete_me"


def run(ctx: Context, args: list[str]) -> None:
    if args:
        ctx.reply(notices.BAD_ARGUMENTS.format(usage=USAGE))
        return
    end_pairings(ctx)
    ctx.audit("identity_deleted")
    ctx.session.execute(delete(BotIdentity).where(BotIdentity.id == ctx.sender_id))
    ctx.session.flush()
    ctx.identity_deleted = True
    ctx.reply(notices.DELETED)
