"""/start: the first thing a Telegram user sends; explains the relay and the platform."""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.domain import notices

NAME = "start"
ADMIN = False
USAGE = "/start"


def run(ctx: Context, args: list[str]) -> None:
    platform = "WhatsApp" if ctx.message.platform.value == "whatsapp" else "Telegram"
    ctx.reply(notices.PLATFORM_WARNING.format(platform=platform))
    ctx.reply(notices.HELP)
