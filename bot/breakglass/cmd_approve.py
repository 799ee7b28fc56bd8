"""/approve: approve another admin's request (exports the bundle)."""

from __future__ import annotations

from medcrypt.bot.breakglass import chat, requests, texts
from medcrypt.bot.relay.context import Context

NAME = "approve"
ADMIN = False  # checked in bot.breakglass.chat so refusals reach the audit chain
USAGE = texts.USAGE_APPROVE


def run(ctx: Context, args: list[str]) -> None:
    chat.run(ctx, args, requests.approve)
