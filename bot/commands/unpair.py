"""/unpair [tag] [code]: end one pairing of the sender, after a confirmation.

Ending a pairing cannot be undone (the members pair again with a new QR code), so it
takes the one confirmation step of risky commands (:mod:`bot.domain.confirmations`,
ADR 0010): the first message names the pairing and gets a code bound to it and to the
sender; the same account sends it back within five minutes. ``/unpair`` alone names
the sender's only pairing, or lists the tags when there are several. A tag that is not
one of the sender's pairings gets the same answer as a tag that names none, so a
guessed tag tells a stranger nothing.
"""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import confirmations, names, notices
from medcrypt.bot.domain.confirmations import ConfirmationRefused, ConfirmBy
from medcrypt.bot.domain.i18n import N_, msg
from medcrypt.bot.domain.pairings import pairings_of
from medcrypt.storage.repos.pairings import PairingRecord, set_pairing_status

USAGE = N_("/unpair [pairing tag], then the same with the code the bot gives")
ASK = N_("This ends pairing {tag} for both of you: no more messages travel in it, and to "
         "talk again you pair anew with a new QR code. To confirm within 5 minutes send: "
         "/unpair {tag} {code}")
WHICH = N_("You have {n} pairings: {tags}. Send /unpair followed by the tag of the one to "
           "end.")
NOT_YOURS = N_("You have no pairing with that tag. Nothing was ended.")


def end_pairings(ctx: Context, *, tell_partner: bool = True) -> int:
    """End every pairing of the sender (``/delete_me``); returns how many."""
    rows = pairings_of(ctx, ctx.sender_id)
    for p in rows:
        _end(ctx, p, tell_partner=tell_partner)
    return len(rows)


def _end(ctx: Context, p: PairingRecord, *, tell_partner: bool = True) -> None:
    set_pairing_status(ctx.session, p.pairing_id, "unpaired")
    ctx.audit("pairing_ended", pairing=p.pairing_id)
    other = p.patient_id if p.physician_id == ctx.sender_id else p.physician_id
    if tell_partner and other:
        ctx.tell(other, notices.PARTNER_UNPAIRED, tag=names.name_of(p))


def _mine(ctx: Context, text: str) -> PairingRecord | None:
    """The sender's live pairing ``text`` names; None for any other (or none at all)."""
    found = names.find(ctx.session, text)
    if isinstance(found, names.NotFound):
        return None
    mine = {p.pairing_id: p for p in pairings_of(ctx, ctx.sender_id)}
    return mine.get(found.pairing_id)


def _ask(ctx: Context, p: PairingRecord) -> None:
    # Bound to the pairing id, not to the text typed: the tag or an id prefix confirm alike.
    ticket = confirmations.ask(ctx, "unpair", [p.pairing_id], confirm_by=ConfirmBy.ASKER)
    ctx.say(ASK, tag=names.name_of(p), code=ticket.code)


@command("unpair", help=N_("/unpair [pairing tag]"))
def run(ctx: Context, args: list[str]) -> None:
    if len(args) > 2:
        ctx.say(notices.BAD_ARGUMENTS, usage=msg(USAGE))
        return
    if not args:
        rows = pairings_of(ctx, ctx.sender_id)
        if not rows:
            ctx.say(notices.NO_PAIRINGS_TO_END)
        elif len(rows) > 1:
            tags = ", ".join(f"{names.name_of(p)} ({notices.status_word(ctx.lang, p.status)})"
                             for p in rows)
            ctx.say(WHICH, n=len(rows), tags=tags)
        else:
            _ask(ctx, rows[0])
        return
    pairing = _mine(ctx, args[0])
    if pairing is None:
        ctx.say(NOT_YOURS)
        return
    if len(args) == 1:
        _ask(ctx, pairing)
        return
    try:
        confirmations.redeem(ctx, "unpair", [pairing.pairing_id], args[1])
    except ConfirmationRefused as refused:
        ctx.say(refused.reply)
        return
    _end(ctx, pairing)
    ctx.say(notices.UNPAIRED, tag=names.name_of(pairing))
