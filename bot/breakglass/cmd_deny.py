"""/deny: deny or withdraw a pending request."""

from __future__ import annotations

from medcrypt.bot.breakglass import chat, requests, texts
from medcrypt.bot.relay.context import Context

NAME = "deny"
ADMIN = False  # checked in bot.breakglass.chat so refusals reach the audit chain
USAGE = texts.USAGE_DENY


def run(ctx: Context, args: list[str]) -> None:
    chat.run(ctx, args, requests.deny)
