"""/admin_remove <identity> - revoke an identity's admin grant made in chat.

A role change, so it takes a fresh confirmation (:mod:`bot.domain.confirmations`): the
same admin sends the command again with the one-time code they were given. A replayed
message - the request or the confirmation - changes nothing. One admin may do this
alone, unlike /admin_add: taking a compromised admin account's rights away must not
wait for a second person. Configured admins change in the configuration.
"""

from __future__ import annotations

from medcrypt.bot.commands.admins import canonical, target, target_usage
from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import confirmations, notices
from medcrypt.bot.domain.confirmations import ConfirmationRefused, ConfirmBy
from medcrypt.bot.domain.i18n import N_
from medcrypt.storage.repos.admins import active_grant, revoke_grant

USAGE = N_("/admin_remove <platform>:<address>")
ASK = N_("To remove this admin, send the same /admin_remove command followed by the code "
         "{code} within 5 minutes (until {until}).")
NOT_CHAT_ADMIN = N_("That is not an admin added in chat (configured admins change in the config).")
REMOVED = N_("Admin removed.")


@command("admin_remove", help=USAGE, admin=True)
def run(ctx: Context, args: list[str]) -> None:
    code = confirmations.code_in(args)
    found = target(ctx, args[:-1] if code else args)
    if found is None:
        ctx.say(notices.BAD_ARGUMENTS, usage=target_usage(ctx, "admin_remove"))
        return
    platform, address = found
    identity_id = ctx.services.directory.find(ctx.session, platform, address)
    grant = None if identity_id is None else active_grant(ctx.session, identity_id)
    if identity_id is None or grant is None:
        ctx.say(NOT_CHAT_ADMIN)
        return
    bound = [canonical(platform, address)]
    if code is None:
        ticket = confirmations.ask(ctx, "admin_remove", bound, confirm_by=ConfirmBy.ASKER)
        ctx.say(ASK, code=ticket.code, until=ticket.expires_at.strftime("%H:%M UTC"))
        return
    try:
        confirmations.redeem(ctx, "admin_remove", bound, code)
    except ConfirmationRefused as refused:
        ctx.say(refused.reply)
        return
    revoke_grant(ctx.session, grant, now=ctx.services.clock.now())
    ctx.audit("admin_removed", subject=identity_id)
    ctx.say(REMOVED)
