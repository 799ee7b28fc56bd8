"""/start: what a new chat with the bot opens with; explains the relay and the platform."""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.help import member_help
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import notices


@command("start", help="/start", listed=False)
def run(ctx: Context, args: list[str]) -> None:
    ctx.reply(notices.PLATFORM_WARNING.format(platform=ctx.channel.display_name))
    ctx.reply(member_help())
