"""/delete_me: erase the sender - their pairings' epochs shredded, then their identity.

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
from medcrypt.bot.domain import notices
from medcrypt.bot.domain.lifecycle.erasure import erase_identity_everywhere
from medcrypt.bot.domain.services import Services
from medcrypt.storage.repos.identities import is_live

USAGE = "/delete_me"


def erase(services: Services, identity_id: str) -> list[str]:
    """Shred, crypto-shred the audit subjects, erase the identity; the goodbye text."""
    with services.sessions() as session:
        pending = is_live(session, identity_id)
    if pending:
        erase_identity_everywhere(services, identity_id, services.clock.now())
    return [notices.DELETED]


@command("delete_me", help=USAGE)
def run(ctx: Context, args: list[str]) -> None:
    if args:
        ctx.reply(notices.BAD_ARGUMENTS.format(usage=USAGE))
        return
    end_pairings(ctx)
    ctx.audit("identity_deleted")
    ctx.after_commit.append(partial(erase, ctx.services, ctx.sender_id))
