"""/shred <pairing> [code]: destroy what the relay holds for a pairing, now (admins).

The documented remedy for a lost phone, and it cannot be undone, so it takes the one
confirmation step of every risky command (:mod:`bot.domain.confirmations`): the first
message asks and gets a code bound to this pairing; the same admin sends it back within
five minutes. A replayed message - either one - changes nothing. One admin may do it
alone: a lost phone must not wait for a second person. The work itself runs after
commit (:func:`bot.commands.lifecycle_chat.shred_command`, :mod:`bot.commands.deferral`).
"""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.deferral import defer_job
from medcrypt.bot.commands.lifecycle_chat import shred_command
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import confirmations, names
from medcrypt.bot.domain.confirmations import ConfirmationRefused, ConfirmBy
from medcrypt.bot.domain.i18n import N_, msg

USAGE = N_("Usage: /shred <pairing tag or id>, then /shred <pairing tag or id> <code> "
           "(tags are listed by /pairings)")
ASK = N_("This ends pairing {short} for good: every stored message and escrow deposit of it "
         "up to this month is destroyed at once, and the relay refuses every later message "
         "of it, in any month. Both members are told to end it on their companion and to "
         "pair again. To confirm within 5 minutes send: /shred {short} {code}")
NO_PAIRING = N_("Nothing was shredded: {reason}")


@command("shred", help=N_("/shred <pairing tag> [code]"), admin=True)
def run(ctx: Context, args: list[str]) -> None:
    if len(args) not in (1, 2):
        ctx.say(USAGE)
        return
    found = names.find(ctx.session, args[0])
    if isinstance(found, names.NotFound):
        ctx.say(NO_PAIRING, reason=msg(found.reply))
        return
    pid = found.pairing_id
    if len(args) == 1:
        # Bound to the id, not the name typed: the tag or a prefix confirms alike.
        ticket = confirmations.ask(ctx, "shred", [pid], confirm_by=ConfirmBy.ASKER)
        ctx.say(ASK, short=names.name_of(found), code=ticket.code)
        return
    try:
        confirmations.redeem(ctx, "shred", [pid], args[1])
    except ConfirmationRefused as refused:
        ctx.say(refused.reply)
        return
    defer_job(ctx, shred_command, [pid])
