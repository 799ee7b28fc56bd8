"""/breakglass: open an emergency-access request.

Delegates to :mod:`bot.breakglass.cmd_breakglass`. ``ADMIN`` is False on purpose: the
break-glass layer checks admin rights itself, inside the message's transaction, so a
refusal becomes a hash-chained audit entry together with its reply.
"""

from __future__ import annotations

from medcrypt.bot.breakglass import cmd_breakglass
from medcrypt.bot.relay.context import Context

NAME = "breakglass"
ADMIN = False
USAGE = cmd_breakglass.USAGE


def run(ctx: Context, args: list[str]) -> None:
    cmd_breakglass.run(ctx, args)
