"""/admin_remove <platform>:<address> - revoke a chat-added admin."""

from __future__ import annotations

from medcrypt.bot.commands.admins import active_grant, target, target_usage
from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import notices
from medcrypt.storage.repos.admins import revoke_grant

USAGE = "/admin_remove <platform>:<address>"


@command("admin_remove", help=USAGE, admin=True)
def run(ctx: Context, args: list[str]) -> None:
    found = target(ctx, args)
    if found is None:
        ctx.reply(notices.BAD_ARGUMENTS.format(usage=target_usage(ctx, "admin_remove")))
        return
    platform, address = found
    identity_id = ctx.services.directory.find(ctx.session, platform, address)
    grant = None if identity_id is None else active_grant(ctx, identity_id)
    if identity_id is None or grant is None:
        ctx.reply("That person is not a chat-added admin (config admins change in the config).")
        return
    revoke_grant(ctx.session, grant, now=ctx.services.clock.now())
    ctx.audit("admin_removed", subject=identity_id)
    ctx.reply("Admin removed.")
