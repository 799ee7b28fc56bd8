"""/admin_remove <platform>:<address> - revoke a chat-added admin."""

from __future__ import annotations

from medcrypt.bot.commands.admins import active_grant, target, target_usage
from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import notices

USAGE = "/admin_remove <platform>:<address>"


@command("admin_remove", help=USAGE, admin=True)
def run(ctx: Context, args: list[str]) -> None:
    found = target(ctx, args)
    if found is None:
        ctx.reply(notices.BAD_ARGUMENTS.format(usage=target_usage(ctx, "admin_remove")))
        return
    platform, address = found
    identity_id = ctx.services.directory.find(ctx.session, platform, address)
    row = None if identity_id is None else active_grant(ctx, identity_id)
    if row is None:
        ctx.reply("That person is not a chat-added admin (config admins change in the config).")
        return
    row.removed_at = ctx.services.clock.now()  # kept: who granted what, and when
    ctx.session.flush()
    ctx.audit("admin_removed", subject=row.identity_id or "")
    ctx.reply("Admin removed.")
