"""/admin_add telegram:<chat id> | whatsapp:+<number> - make someone a clinic admin."""

from __future__ import annotations

from medcrypt.bot.commands.admins import active_grant, parse_target
from medcrypt.bot.commands.context import Context
from medcrypt.bot.domain import notices
from medcrypt.bot.domain.messages import Platform
from medcrypt.storage.repos.admins import grant

NAME = "admin_add"
ADMIN = True
USAGE = "/admin_add telegram:<chat id> or /admin_add whatsapp:+<number>"


def run(ctx: Context, args: list[str]) -> None:
    target = parse_target(args[0]) if len(args) == 1 else None
    if target is None:
        ctx.reply(notices.BAD_ARGUMENTS.format(usage=USAGE))
        return
    platform, address = target
    resolved = ctx.services.directory.resolve(ctx.session, Platform(platform), address)
    if active_grant(ctx, resolved.identity_id) is not None:
        ctx.reply("That person is already an admin.")
        return
    grant(ctx.session, identity_id=resolved.identity_id, platform=platform,
          added_by=ctx.sender_id, now=ctx.services.clock.now())
    ctx.audit("admin_added", subject=resolved.identity_id)
    ctx.reply("Admin added.")
