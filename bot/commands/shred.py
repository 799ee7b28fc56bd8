"""/shred <pairing> [code]: destroy what the relay holds for a pairing, now (admins).

A thin adapter: :func:`bot.commands.lifecycle_chat.shred_command` does the work after commit
(see :mod:`bot.commands.deferral`); the dispatcher has already checked and audited
that the sender is an admin.
"""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.deferral import defer_job
from medcrypt.bot.commands.lifecycle_chat import shred_command
from medcrypt.bot.commands.registry import command


@command("shred", help="/shred <pairing> [code]", admin=True)
def run(ctx: Context, args: list[str]) -> None:
    defer_job(ctx, shred_command, args)
