"""/admin_add <platform>:<address> - make someone a clinic admin."""

from __future__ import annotations

from medcrypt.bot.commands.admins import active_grant, target, target_usage
from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import notices
from medcrypt.storage.repos.admins import grant

USAGE = "/admin_add <platform>:<address>"


@command("admin_add", help=USAGE, admin=True)
def run(ctx: Context, args: list[str]) -> None:
    found = target(ctx, args)
    if found is None:
        ctx.reply(notices.BAD_ARGUMENTS.format(usage=target_usage(ctx, "admin_add")))
        return
    platform, address = found
    resolved = ctx.services.directory.resolve(ctx.session, platform, address)
    if active_grant(ctx, resolved.identity_id) is not None:
        ctx.reply("That person is already an admin.")
        return
    grant(ctx.session, identity_id=resolved.identity_id, platform=platform,
          added_by=ctx.sender_id, now=ctx.services.clock.now())
    ctx.audit("admin_added", subject=resolved.identity_id)
    ctx.reply("Admin added.")
