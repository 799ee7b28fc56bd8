"""/stats: counts only - identities, pairings, deliveries by state. No PHI, no ids."""

from __future__ import annotations

from sqlalchemy import func, select

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import notices
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.models.pairings import Pairing

USAGE = "/stats"


@command("stats", help=USAGE, admin=True)
def run(ctx: Context, args: list[str]) -> None:
    if args:
        ctx.reply(notices.BAD_ARGUMENTS.format(usage=USAGE))
        return
    s = ctx.session
    users = s.scalar(select(func.count()).select_from(PlatformIdentity).where(
        PlatformIdentity.deleted_at.is_(None))) or 0
    pairs: dict[str, int] = dict(s.execute(
        select(Pairing.status, func.count()).group_by(Pairing.status)).all())
    out: dict[str, int] = dict(s.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    ended = pairs.get("unpaired", 0) + pairs.get("erased", 0)
    ctx.reply(
        f"Users: {users}. Pairings: {pairs.get('active', 0)} active, "
        f"{pairs.get('pending', 0)} pending, {ended} ended. "
        "Outbox: " + ", ".join(f"{k} {v}" for k, v in sorted(out.items())) + "."
    )
