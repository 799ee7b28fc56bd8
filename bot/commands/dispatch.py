"""Run the command a chat message names, if the sender may run it.

A non-admin's attempt at an admin command is refused before the command runs: the
reply and a hash-chained audit entry naming the sender commit together (the sender's
identity is kept for it, even on first contact). An admin's use of one is audited too.
"""

from __future__ import annotations

from medcrypt.bot.commands.admins import is_admin
from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import lookup
from medcrypt.bot.domain import notices

#: Longest command line accepted (anything longer is not a command a human typed). The
#: longest real one is ``/audit_verify`` with a pasted witness line: about 200 characters.
MAX_COMMAND_CHARS = 256


def refuse(ctx: Context, name: str) -> None:
    """The dispatcher's answer to a non-admin: ADMIN_ONLY, and ``admin.refused``."""
    ctx.audit("admin_command_refused", command=name)
    ctx.say(notices.ADMIN_ONLY)


def dispatch(ctx: Context, text: str) -> None:
    if len(text) > MAX_COMMAND_CHARS:
        ctx.say(notices.UNKNOWN_COMMAND)
        return
    head, *args = text.split()
    name = head[1:].lower()
    command = lookup(name)
    if command is None:
        ctx.say(notices.UNKNOWN_COMMAND)
        return
    if command.admin:
        ctx.keep_identity = True  # the audit entry must name a real actor
        if not is_admin(ctx, ctx.sender_id):
            (command.refuse or refuse)(ctx, name)
            return
        ctx.audit("admin_command", command=name)
    command.run(ctx, args)
