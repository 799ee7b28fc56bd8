"""/stats: counts only - people, pairings, deliveries by state. No PHI, no ids.

In plain words (issue 16): an admin reads "3 waiting to be sent", not ``queued 3``.
"""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import notices
from medcrypt.bot.domain.i18n import N_, Nn_, msg_plural, translate, translate_plural
from medcrypt.storage.repos import identities, outbox, pairings

USAGE = "/stats"
#: Outbox states (storage.models.outbox) in words, with their count (a plural form per
#: language: "1 enviado", "3 enviados"); an unknown state is shown as stored.
DELIVERY_WORDS = {
    "pending": Nn_("{n} waiting to be sent", "{n} waiting to be sent"),
    "sending": Nn_("{n} being sent", "{n} being sent"),
    "held": Nn_("{n} held until the person writes to the bot",
                "{n} held until the person writes to the bot"),
    "sent": Nn_("{n} sent", "{n} sent"),
    "failed": Nn_("{n} failed for good", "{n} failed for good"),
}
NONE = N_("none")
TEXT = N_("People known to the bot: {users}.\n"
          "Pairings: {active}, {pending}, {ended}.\n"
          "Messages and notices: {deliveries}.")
ACTIVE = Nn_("{n} active", "{n} active")
PENDING = Nn_("{n} waiting for the patient", "{n} waiting for the patient")
ENDED = Nn_("{n} ended", "{n} ended")


@command("stats", help=USAGE, admin=True)
def run(ctx: Context, args: list[str]) -> None:
    if args:
        ctx.say(notices.BAD_ARGUMENTS, usage=USAGE)
        return
    s = ctx.session
    pairs = pairings.status_counts(s)
    out = outbox.status_counts(s)
    deliveries = ", ".join(
        translate_plural(ctx.lang, DELIVERY_WORDS[k], v) if k in DELIVERY_WORDS else f"{v} {k}"
        for k, v in sorted(out.items())) or translate(ctx.lang, NONE)
    ctx.say(TEXT, users=identities.count_live(s),
            active=msg_plural(ACTIVE, pairs.get("active", 0)),
            pending=msg_plural(PENDING, pairs.get("pending", 0)),
            ended=msg_plural(ENDED, pairs.get("unpaired", 0) + pairs.get("erased", 0)),
            deliveries=deliveries)
