"""/breakglass: open an emergency-access request."""

from __future__ import annotations

from medcrypt.bot.breakglass import chat, requests, texts
from medcrypt.bot.relay.context import Context

NAME = "breakglass"
ADMIN = False  # checked in bot.breakglass.chat so refusals reach the audit chain
USAGE = texts.USAGE_REQUEST


def run(ctx: Context, args: list[str]) -> None:
    chat.run(ctx, args, requests.request)
