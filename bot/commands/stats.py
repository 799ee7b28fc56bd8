"""/stats: counts only - identities, pairings, deliveries by state. No PHI, no ids."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.relay import notices
from bot.relay.context import Context
from storage.models.bot_relay import BotIdentity, BotOutbox, BotPairing

NAME = "stats"
ADMIN = True
USAGE = "/stats"


def run(ctx: Context, args: list[str]) -> None:
    if args:
        ctx.reply(notices.BAD_ARGUMENTS.format(usage=USAGE))
        return
    s = ctx.session
    users = s.scalar(select(func.count()).select_from(BotIdentity)) or 0
    pairs: dict[str, int] = dict(s.execute(
        select(BotPairing.status, func.count()).group_by(BotPairing.status)).all())
    out: dict[str, int] = dict(s.execute(
        select(BotOutbox.status, func.count()).group_by(BotOutbox.status)).all())
    ctx.reply(
        f"Users: {users}. Pairings: {pairs.get('active', 0)} active, "
        f"{pairs.get('pending', 0)} pending, {pairs.get('ended', 0)} ended. "
        "Outbox: " + ", ".join(f"{k} {v}" for k, v in sorted(out.items())) + "."
    )
