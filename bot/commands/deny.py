"""/deny: deny or withdraw a break-glass request.

Delegates to :mod:`bot.breakglass.cmd_deny`. ``ADMIN`` is False on purpose: the
break-glass layer checks admin rights itself, inside the message's transaction, so a
refusal becomes a hash-chained audit entry together with its reply.
"""

from __future__ import annotations

from medcrypt.bot.breakglass import cmd_deny
from medcrypt.bot.relay.context import Context

NAME = "deny"
ADMIN = False
USAGE = cmd_deny.USAGE


def run(ctx: Context, args: list[str]) -> None:
    cmd_deny.run(ctx, args)
