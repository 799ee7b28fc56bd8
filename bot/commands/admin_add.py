"""/admin_add <identity> [<identity of an admin added in chat>] - make someone a clinic
admin, or give an admin person added in chat one more identity.

Granting admin is how a clinic gets a second admin in chat, and break-glass trusts two
admins to be two people. So it is never one admin's decision: one admin asks, and a
second admin who is another person confirms with the one-time code the first one was
given (:mod:`bot.domain.confirmations`) - sending the same command, the same identities,
and the code. Replaying either message later changes nothing: the first only asks
again, the second's code is used. The grant records who asked and who confirmed - as
identities and as persons - because break-glass refuses an approver whom the requester
made an admin (:mod:`bot.domain.breakglass.requests`).

Configured admins are persons of the configuration: their identities change there, not
here. The texts never repeat the address typed (replies are stored until sent).
"""

from __future__ import annotations

from medcrypt.bot.commands.admins import canonical, target_usage
from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import confirmations, notices, persons
from medcrypt.bot.domain.confirmations import ConfirmationRefused, ConfirmBy
from medcrypt.bot.domain.i18n import N_, msg
from medcrypt.bot.domain.messages import Platform
from medcrypt.bot.domain.persons import Person
from medcrypt.storage.repos import admins
from medcrypt.storage.repos.identities import is_live

USAGE = N_("/admin_add <platform>:<address> [<platform>:<address> of the same admin]")
ASK = N_("A second admin - another person than you - must confirm this within 5 minutes "
         "(until {until}): they send the same /admin_add command followed by the code {code}")
ADDED = N_("Admin added.")
ADDED_FOR_ASKER = N_("Your /admin_add was confirmed by another admin: admin added.")
ALREADY = N_("That identity is an admin already.")
NOT_A_CHAT_ADMIN = N_("The second identity must be one of an admin added in chat (configured "
                      "admins' identities change in the configuration).")


def _target(ctx: Context, args: list[str]) -> list[tuple[Platform, str]] | None:
    found = [ctx.services.admin_target(a) for a in args]
    if not 1 <= len(found) <= 2:
        return None
    named = [f for f in found if f is not None]
    return named if len(named) == len(found) else None


def _admin_as(ctx: Context, platform: Platform, address: str) -> Person | None:
    """The admin person an address is an identity of already, if any."""
    configured = persons.configured_person(ctx.services, platform, address)
    if configured is not None:
        return configured
    identity_id = ctx.services.directory.find(ctx.session, platform, address)
    return None if identity_id is None else persons.admin_person(
        ctx.services, ctx.session, identity_id)


def _problem(ctx: Context, named: list[tuple[Platform, str]]) -> str | Person | None:
    """Why nothing can be granted (a reply), else the person an identity joins (None: a
    new person)."""
    if _admin_as(ctx, *named[0]) is not None:
        return ALREADY
    if len(named) == 1:
        return None
    person = _admin_as(ctx, *named[1])
    if person is None or person.row_id is None:
        return NOT_A_CHAT_ADMIN
    return person


@command("admin_add", help=USAGE, admin=True)
def run(ctx: Context, args: list[str]) -> None:
    code = confirmations.code_in(args)
    named = _target(ctx, args[:-1] if code else args)
    if named is None:
        ctx.say(notices.BAD_ARGUMENTS, usage=target_usage(
            ctx, "admin_add", msg(N_("[<platform>:<address> of the same admin]"))))
        return
    bound = [canonical(platform, address) for platform, address in named]
    joins = _problem(ctx, named)
    if isinstance(joins, str):
        ctx.say(joins)
        return
    if code is None:
        ticket = confirmations.ask(ctx, "admin_add", bound, confirm_by=ConfirmBy.OTHER_PERSON)
        ctx.say(ASK, code=ticket.code, until=ticket.expires_at.strftime("%H:%M UTC"))
        return
    try:
        confirmed = confirmations.redeem(ctx, "admin_add", bound, code)
    except ConfirmationRefused as refused:
        ctx.say(refused.reply)
        return
    now = ctx.services.clock.now()
    platform, address = named[0]
    person_id = (joins.row_id if joins is not None and joins.row_id is not None
                 else admins.new_person(ctx.session, now=now))
    identity_id = ctx.services.directory.resolve(ctx.session, platform, address).identity_id
    admins.grant(ctx.session, identity_id=identity_id, platform=platform.value,
                 person_id=person_id, added_by=confirmed.asker_id, confirmed_by=ctx.sender_id,
                 added_by_person=confirmed.asker_person,
                 confirmed_by_person=confirmed.confirmer_person, now=now)
    ctx.audit("admin_added", subject=identity_id, proposer=confirmed.asker_person,
              person=persons.ref(ctx.services, persons.chat_person(person_id)))
    ctx.say(ADDED)
    if is_live(ctx.session, confirmed.asker_id):
        ctx.tell(confirmed.asker_id, ADDED_FOR_ASKER)
