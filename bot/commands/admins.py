"""/admins: list the clinic's admin persons with their identities, addresses masked - and
who is one.

:func:`is_admin` is what the dispatcher asks before any admin command runs, and
break-glass before its state machine does. It asks :mod:`bot.domain.persons`, the one
place that knows who is an admin: the configuration's persons and the persons made in
chat, by the identity a message came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import persons
from medcrypt.bot.domain.i18n import N_, Msg, Written, msg, translate
from medcrypt.bot.domain.messages import Platform
from medcrypt.storage.normalize import normalize_address
from medcrypt.storage.repos import admins, identities


def is_admin(ctx: Context, identity_id: str) -> bool:
    return persons.admin_person(ctx.services, ctx.session, identity_id) is not None


def mask(address: str) -> str:
    """Enough to tell admins apart, not enough to be a phone number or chat id."""
    return "…" + address[-3:] if len(address) > 3 else "…"


def target(ctx: Context, args: list[str]) -> tuple[Platform, str] | None:
    """One ``<platform>:<address>`` argument of /admin_add and /admin_remove, parsed the
    way the platform's adapter reads it; None when it is not exactly that."""
    return ctx.services.admin_target(args[0]) if len(args) == 1 else None


def canonical(platform: Platform, address: str) -> str:
    """``<platform>:<normalized address>``: what a confirmation code is bound to, the
    same however the admin typed the number."""
    return f"{platform.value}:{normalize_address(platform.value, address)}"


def target_usage(ctx: Context, command: str, extra: Msg | None = None) -> Msg | Written:
    """``/<command> <form>`` for every platform, in the forms its adapter accepts, joined
    by "or": written in the asker's language, placeholders (``<chat id>``) included."""
    forms: list[Msg | Written] = [
        Written((f"/{command}", msg(channel.admin_form), *((extra,) if extra else ())))
        for channel in ctx.services.channels.values()]
    usage = forms[0]
    for form in forms[1:]:
        usage = msg(N_("{first} or {second}"), first=usage, second=form)
    return usage


#: Said of an identity the bot cannot write to yet (see :func:`_reach`).
NOT_REACHABLE = N_("not reachable yet")
HEADER = N_("Clinic admins, one line per person:")
CONFIGURED = N_("- {names} (configuration)")
IN_CHAT = N_("- {names} (added in chat)")
NONE = N_("- none")
WAITING = N_(
    "Admins not reachable yet get the audit witness lines once they write to the bot (on "
    "Telegram: open its chat and press Start)."
)


def _reach(waiting: Mapping[str, datetime | None], identity_id: str | None,
           language: str) -> str:
    """`` (not reachable yet)`` for an admin identity the bot cannot write to: none
    known (they never wrote to the bot), or messages held until they write (Telegram
    refused to reach them: never opened the chat, or blocked the bot; WhatsApp: their
    24-hour window closed). Their witness lines wait, they are not lost."""
    if identity_id is None or waiting.get(identity_id) is not None:
        return f" ({translate(language, NOT_REACHABLE)})"
    return ""


def _configured(ctx: Context) -> Mapping[str, list[str]]:
    """person key -> masked identities with their reachability, for configured persons."""
    found: dict[str, list[str]] = {}
    for channel in ctx.services.channels.values():
        for address, key in channel.config_admins.items():
            identity_id = ctx.services.directory.find(ctx.session, channel.platform, address)
            waiting = identities.waiting_since(ctx.session, [identity_id] if identity_id
                                               else [])
            found.setdefault(key, []).append(f"{channel.platform.value} {mask(address)}"
                                             f"{_reach(waiting, identity_id, ctx.lang)}")
    return found


@command("admins", help="/admins", admin=True)
def run(ctx: Context, args: list[str]) -> None:
    lines = [translate(ctx.lang, HEADER)]
    lines += [translate(ctx.lang, CONFIGURED, names=", ".join(names))
              for names in _configured(ctx).values()]
    for identity_ids in admins.persons(ctx.session).values():
        found = ctx.services.directory.addresses_of(ctx.session, identity_ids)
        waiting = identities.waiting_since(ctx.session, identity_ids)
        names = [f"{found[i][0].value} {mask(found[i][1])}{_reach(waiting, i, ctx.lang)}"
                 for i in identity_ids
                 if i in found and persons.configured_person(ctx.services, *found[i]) is None]
        if names:
            lines.append(translate(ctx.lang, IN_CHAT, names=", ".join(names)))
    if len(lines) == 1:
        lines.append(translate(ctx.lang, NONE))
    if translate(ctx.lang, NOT_REACHABLE) in "\n".join(lines):
        lines.append(translate(ctx.lang, WAITING))
    ctx.reply("\n".join(lines))
