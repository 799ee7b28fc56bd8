"""/admin_remove telegram:<chat id> | whatsapp:+<number> - revoke a chat-added admin."""

from __future__ import annotations

from medcrypt.bot.commands.admins import active_grant, parse_target
from medcrypt.bot.commands.context import Context
from medcrypt.bot.domain import notices
from medcrypt.bot.domain.messages import Platform
from medcrypt.storage.repos.admins import revoke_grant

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
    grant = None if identity_id is None else active_grant(ctx, identity_id)
    if identity_id is None or grant is None:
        ctx.reply("That person is not a chat-added admin (config admins change in the config).")
        return
    revoke_grant(ctx.session, grant, now=ctx.services.clock.now())
    ctx.audit("admin_removed", subject=identity_id)
    ctx.reply("Admin removed.")
