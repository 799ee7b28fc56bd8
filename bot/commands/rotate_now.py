"""/rotate_now <pairing|all>: rotation bookkeeping now for one pairing or all (admins).

A thin adapter: :func:`bot.commands.lifecycle_chat.rotate_now_command` does the work after commit
(see :mod:`bot.commands.deferral`); the dispatcher has already checked and audited
that the sender is an admin.
"""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.deferral import defer_job
from medcrypt.bot.commands.lifecycle_chat import rotate_now_command
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain.i18n import N_


@command("rotate_now", help=N_("/rotate_now <pairing|all>"), admin=True)
def run(ctx: Context, args: list[str]) -> None:
    defer_job(ctx, rotate_now_command, args)
