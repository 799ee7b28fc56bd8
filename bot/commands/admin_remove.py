"""/admin_remove telegram:<chat id> | whatsapp:+<number> - revoke a chat-added admin."""

from __future__ import annotations

from medcrypt.bot.commands.admins import active_grant, parse_target
from medcrypt.bot.commands.context import Context
from medcrypt.bot.domain import notices
from medcrypt.bot.domain.messages import Platform

NAME = "admin_remove"
ADMIN = True
USAGE = "/admin_remove telegram:<chat id> or /admin_remove whatsapp:+<number>"


def run(ctx: Context, args: list[str]) -> None:
    target = parse_target(args[0]) if len(args) == 1 else None
    if target is None:
        ctx.reply(notices.BAD_ARGUMENTS.format(usage=USAGE))
        return
    platform, address = target
    identity_id = ctx.services.directory.find(ctx.session, Platform(platform), address)
    row = None if identity_id is None else active_grant(ctx, identity_id)
    if row is None:
        ctx.reply("That person is not a chat-added admin (config admins change in the config).")
        return
    row.removed_at = ctx.services.clock.now()  # kept: who granted what, and when
    ctx.session.flush()
    ctx.audit("admin_removed", subject=row.identity_id or "")
    ctx.reply("Admin removed.")
