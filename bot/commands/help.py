"""/help: how to use the companion with this chat; admins also get their commands.

The admins' part is generated from the registry: every command declared ``admin=True``,
with its help line. The patients' and physicians' part is the reviewed notice
:data:`bot.domain.notices.HELP` (it names the listed non-admin commands; a test keeps
the two in step).
"""

from __future__ import annotations

from medcrypt.bot.commands.admins import is_admin
from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command, registered
from medcrypt.bot.domain import notices


def admin_help() -> str:
    lines = [notices.HELP, "", "Clinic admin commands:"]
    lines += [c.help for c in registered() if c.admin and c.listed]
    return "\n".join(lines)


@command("help", help="/help")
def run(ctx: Context, args: list[str]) -> None:
    ctx.reply(admin_help() if is_admin(ctx, ctx.sender_id) else notices.HELP)
