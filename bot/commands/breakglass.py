"""/breakglass: open an emergency-access request (admins).

A non-admin is refused by the dispatcher like for any admin command, but the refusal is
recorded as break-glass records its own (``admin.refused`` with ``why: not_admin``), in
the message's transaction together with the reply.
"""

from __future__ import annotations

from medcrypt.bot.commands import breakglass_chat
from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain.breakglass import requests
from medcrypt.bot.domain.i18n import N_


@command("breakglass", help=N_("/breakglass <pairing tag or id> <reason>"), admin=True,
         refuse=breakglass_chat.refuse)
def run(ctx: Context, args: list[str]) -> None:
    breakglass_chat.run(ctx, args, requests.request)
