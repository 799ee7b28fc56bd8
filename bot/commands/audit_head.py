"""/audit_head: where the audit log stands and its last signed witness line (admins).

A single read of the head row (on its own connection: a read under WAL does not wait
on this message's transaction), rendered by :func:`bot.domain.audit_chat.render_head_reply`.
"""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain.audit_chat import render_head_reply


@command("audit_head", help="/audit_head", admin=True)
def run(ctx: Context, args: list[str]) -> None:
    ctx.reply(render_head_reply(ctx.services.audit.head(), ctx.lang))
