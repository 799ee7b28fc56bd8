"""/delete_me [code]: erase the sender - after a confirmation - their pairings' epochs
shredded, then their identity.

It cannot be undone, so it takes the one confirmation step of risky commands
(:mod:`bot.domain.confirmations`, ADR 0010): ``/delete_me`` asks and gets a code bound
to the sender; ``/delete_me CODE`` from the same account within five minutes erases. A
replayed message - either one - changes nothing. A stranger (the bot knew nothing of
them before this message) is told there is nothing to delete: nothing of their
messages is kept, so no code could be either.

Order matters. Inside the message's transaction the pairings are ended (the other
member is told) and the request is audited. After that commits, the erasure job
(:func:`bot.domain.lifecycle.erasure.erase_identity_everywhere`) shreds every epoch of those
pairings - stored tokens, escrow deposits, queued copies - crypto-shreds the audit
subjects and clears the sealed address (the row stays, without it, for references). The
erasure opens its own transactions, which on SQLite could not start while the message's
transaction holds the write lock - hence after commit. The goodbye goes out directly,
because nothing can be queued for an identity that has no address any more. If the erasure
fails half-way, the reply says so and ``/delete_me`` again finishes it (every step is
idempotent).
"""

from __future__ import annotations

from functools import partial

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.commands.unpair import end_pairings
from medcrypt.bot.domain import confirmations, notices
from medcrypt.bot.domain.confirmations import ConfirmationRefused, ConfirmBy
from medcrypt.bot.domain.i18n import N_, msg, translate
from medcrypt.bot.domain.lifecycle.erasure import erase_identity_everywhere
from medcrypt.bot.domain.services import Services
from medcrypt.storage.repos.identities import is_live

USAGE = N_("/delete_me, then /delete_me <code>")
ASK = N_("This deletes everything the relay holds about you, for good: your pairings end "
         "(the other person is told), their stored messages and recovery copies are "
         "destroyed, and this chat's address is erased. To confirm within 5 minutes send: "
         "/delete_me {code}")
NOTHING_HELD = N_("The relay holds nothing about you: there is nothing to delete.")


def erase(services: Services, identity_id: str, language: str) -> list[str]:
    """Shred, crypto-shred the audit subjects, erase the identity; the goodbye text."""
    with services.sessions() as session:
        pending = is_live(session, identity_id)
    if pending:
        erase_identity_everywhere(services, identity_id, services.clock.now())
    return [translate(language, notices.DELETED)]


@command("delete_me", help=USAGE)
def run(ctx: Context, args: list[str]) -> None:
    if len(args) > 1:
        ctx.say(notices.BAD_ARGUMENTS, usage=msg(USAGE))
        return
    if ctx.message.first_contact:
        ctx.say(NOTHING_HELD)
        return
    if not args:
        ticket = confirmations.ask(ctx, "delete_me", [], confirm_by=ConfirmBy.ASKER)
        ctx.say(ASK, code=ticket.code)
        return
    try:
        confirmations.redeem(ctx, "delete_me", [], args[0])
    except ConfirmationRefused as refused:
        ctx.say(refused.reply)
        return
    end_pairings(ctx)
    ctx.audit("identity_deleted")
    ctx.after_commit.append(partial(erase, ctx.services, ctx.sender_id, ctx.lang))
