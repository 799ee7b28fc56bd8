"""/unpair: end every pairing of the sender; the other member is told."""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import notices
from medcrypt.bot.domain.pairings import pairings_of
from medcrypt.storage.repos.pairings import set_pairing_status

USAGE = "/unpair"


def end_pairings(ctx: Context, *, tell_partner: bool = True) -> int:
    rows = pairings_of(ctx, ctx.sender_id)
    for p in rows:
        set_pairing_status(ctx.session, p.pairing_id, "unpaired")
        ctx.audit("pairing_ended", pairing=p.pairing_id)
        other = p.patient_id if p.physician_id == ctx.sender_id else p.physician_id
        if tell_partner and other:
            ctx.notify(other, notices.PARTNER_UNPAIRED)
    return len(rows)


@command("unpair", help=USAGE)
def run(ctx: Context, args: list[str]) -> None:
    if args:
        ctx.reply(notices.BAD_ARGUMENTS.format(usage=USAGE))
        return
    ctx.reply(notices.UNPAIRED if end_pairings(ctx) else notices.NO_PAIRINGS_TO_END)
