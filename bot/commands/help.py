"""/help: how to use the companion with this chat; admins also get their commands.

Both parts are generated from the registry, so nothing is listed twice and a new command
cannot be forgotten: everyone gets the reviewed opening
:data:`bot.domain.notices.HELP_INTRO_COMMANDS` (in their language) and the listed commands
open to all; admins also
get every command declared ``admin=True``, with its help line.
"""

from __future__ import annotations

from medcrypt.bot.commands.admins import is_admin
from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command, registered
from medcrypt.bot.domain import notices
from medcrypt.bot.domain.i18n import N_, SOURCE_LANGUAGE, translate


def member_help(language: str = SOURCE_LANGUAGE) -> str:
    """What patients and physicians are told, in ``language``: the opening and the
    commands open to all (their usage lines are commands, not translated)."""
    names = ", ".join(translate(language, c.help)
                      for c in registered() if not c.admin and c.listed)
    return translate(language, notices.HELP_INTRO_COMMANDS, commands=names)


ADMIN_COMMANDS = N_("Clinic admin commands:")


def admin_help(language: str = SOURCE_LANGUAGE) -> str:
    """Admins' /help: the member help, then the admin commands, in ``language``."""
    lines = [member_help(language), "", translate(language, ADMIN_COMMANDS)]
    lines += [translate(language, c.help) for c in registered() if c.admin and c.listed]
    return "\n".join(lines)


@command("help", help="/help")
def run(ctx: Context, args: list[str]) -> None:
    ctx.reply(admin_help(ctx.lang) if is_admin(ctx, ctx.sender_id) else member_help(ctx.lang))
