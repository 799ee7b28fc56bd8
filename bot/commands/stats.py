"""/stats: counts only - identities, pairings, deliveries by state. No PHI, no ids."""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import notices
from medcrypt.storage.repos import identities, outbox, pairings

USAGE = "/stats"


@command("stats", help=USAGE, admin=True)
def run(ctx: Context, args: list[str]) -> None:
    if args:
        ctx.reply(notices.BAD_ARGUMENTS.format(usage=USAGE))
        return
    s = ctx.session
    users = identities.count_live(s)
    pairs = pairings.status_counts(s)
    out = outbox.status_counts(s)
    ended = pairs.get("unpaired", 0) + pairs.get("erased", 0)
    ctx.reply(
        f"Users: {users}. Pairings: {pairs.get('active', 0)} active, "
        f"{pairs.get('pending', 0)} pending, {ended} ended. "
        "Outbox: " + ", ".join(f"{k} {v}" for k, v in sorted(out.items())) + "."
    )
