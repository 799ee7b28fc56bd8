"""/status: the sender's pairings by tag, the current key month, next rotation and grace end."""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import notices
from medcrypt.bot.domain.i18n import msg, translate
from medcrypt.bot.domain.names import name_of
from medcrypt.bot.domain.pairings import pairings_of, role_of
from medcrypt.crypto.keyless.epochs import epoch_end, epoch_of, format_epoch, grace_end


@command("status", help="/status")
def run(ctx: Context, args: list[str]) -> None:
    rows = pairings_of(ctx, ctx.sender_id)
    if not rows:
        ctx.say(notices.NOT_PAIRED)
        return
    now = ctx.services.clock.now()
    current = epoch_of(now)
    lines = []
    for i, p in enumerate(rows, 1):
        role = notices.ROLE_WORDS.get(role_of(p, ctx.sender_id) or "", notices.ROLE_MEMBER)
        status = notices.PAIRING_STATUS_WORDS.get(p.status)
        lines.append(translate(ctx.lang, notices.STATUS_PAIRING, i=i, tag=name_of(p),
                               role=msg(role), status=msg(status) if status else p.status))
        lines.append(translate(
            ctx.lang, notices.STATUS_KEYS, month=format_epoch(current),
            next=f"{epoch_end(current):%Y-%m-%d %H:%M}",
            until=f"{grace_end(current - 1, p.grace_days):%Y-%m-%d %H:%M}"))
    ctx.reply("\n".join(lines))
