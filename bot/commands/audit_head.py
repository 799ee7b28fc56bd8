"""/audit_head: where the audit log stands and its last signed witness line (admins).

A single read of the head row (on its own connection: a read under WAL does not wait
on this message's transaction), rendered by :func:`bot.audit_chat.render_head_reply`.
"""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.deferral import NOT_WIRED
from medcrypt.bot.domain.audit_chat import render_head_reply

NAME = "audit_head"
ADMIN = True
USAGE = "/audit_head"


def run(ctx: Context, args: list[str]) -> None:
    jobs = ctx.services.jobs
    if jobs is None:
        ctx.reply(NOT_WIRED)
        return
    ctx.reply(render_head_reply(jobs.audit.head()))
