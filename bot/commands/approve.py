"""/approve: approve another admin's break-glass request.

Delegates to :mod:`bot.breakglass.cmd_approve`. ``ADMIN`` is False on purpose: the
break-glass layer checks admin rights itself, inside the message's transaction, so a
refusal becomes a hash-chained audit entry together with its reply.
"""

from __future__ import annotations

from medcrypt.bot.breakglass import cmd_approve
from medcrypt.bot.relay.context import Context

NAME = "approve"
ADMIN = False
USAGE = cmd_approve.USAGE


def run(ctx: Context, args: list[str]) -> None:
    cmd_approve.run(ctx, args)
