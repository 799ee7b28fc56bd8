"""/help: how to use the companion with this chat."""

from __future__ import annotations

from bot.relay import notices
from bot.relay.context import Context

NAME = "help"
ADMIN = False
USAGE = "/help"


def run(ctx: Context, args: list[str]) -> None:
    ctx.reply(notices.HELP)
