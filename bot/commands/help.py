"""/help: how to use the companion with this chat; admins also get their commands."""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.domain import notices

NAME = "help"
ADMIN = False
USAGE = "/help"

#: Admin commands in the order /help lists them (break-glass ones check admin rights
#: themselves, so their ADMIN flag cannot be used to pick them).
ADMIN_COMMANDS = ("admins", "admin_add", "admin_remove", "stats", "jobs", "rotate_now",
                  "shred", "breakglass", "approve", "deny", "audit_head", "audit_verify")


def run(ctx: Context, args: list[str]) -> None:
    from medcrypt.bot.commands import registry
    from medcrypt.bot.commands.admins import is_admin

    if not is_admin(ctx, ctx.sender_id):
        ctx.reply(notices.HELP)
        return
    commands = registry()
    lines = [notices.HELP, "", "Clinic admin commands:"]
    lines += [commands[name].USAGE.removeprefix("Usage: ")
              for name in ADMIN_COMMANDS if name in commands]
    ctx.reply("\n".join(lines))
