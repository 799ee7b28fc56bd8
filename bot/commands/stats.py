"""/stats: counts only - people, pairings, deliveries by state. No PHI, no ids.

In plain words (issue 16): an admin reads "3 waiting to be sent", not ``queued 3``.
"""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import notices
from medcrypt.storage.repos import identities, outbox, pairings

USAGE = "/stats"
#: Outbox states (storage.models.outbox) in words; an unknown state is shown as is.
DELIVERY_WORDS = {
    "pending": "waiting to be sent",
    "sending": "being sent",
    "held": "held until the person writes to the bot",
    "sent": "sent",
    "failed": "failed for good",
}
TEXT = ("People known to the bot: {users}.\n"
        "Pairings: {active} active, {pending} waiting for the patient, {ended} ended.\n"
        "Messages and notices: {deliveries}.")


@command("stats", help=USAGE, admin=True)
def run(ctx: Context, args: list[str]) -> None:
    if args:
        ctx.reply(notices.BAD_ARGUMENTS.format(usage=USAGE))
        return
    s = ctx.session
    pairs = pairings.status_counts(s)
    out = outbox.status_counts(s)
    deliveries = ", ".join(f"{v} {DELIVERY_WORDS.get(k, k.replace('_', ' '))}"
                           for k, v in sorted(out.items())) or "none"
    ctx.reply(TEXT.format(
        users=identities.count_live(s), active=pairs.get("active", 0),
        pending=pairs.get("pending", 0),
        ended=pairs.get("unpaired", 0) + pairs.get("erased", 0), deliveries=deliveries))
