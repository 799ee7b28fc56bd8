"""/breakglass: open an emergency-access request.

``ADMIN`` is False on purpose: the break-glass layer checks admin rights itself, inside
the message's transaction, so a refusal becomes a hash-chained audit entry together
with its reply.
"""

from __future__ import annotations

from medcrypt.bot.commands import breakglass_chat
from medcrypt.bot.commands.context import Context
from medcrypt.bot.domain.breakglass import requests, texts

NAME = "breakglass"
ADMIN = False
USAGE = texts.USAGE_REQUEST


def run(ctx: Context, args: list[str]) -> None:
    breakglass_chat.run(ctx, args, requests.request)
