"""Plug the break-glass state machine into the bot's chat command dispatcher.

:func:`run` adapts a :class:`bot.commands.context.Context` (the one transaction of the
inbound message) to :mod:`bot.domain.breakglass.requests`: it resolves whether the sender
is an admin, hands over the bot's :class:`~bot.domain.services.Services` (server keyring,
the engine's one audit log, already warm) and turns the
:class:`~bot.domain.breakglass.requests.Outcome` into queued replies, notices and the
bundle document - all committed together with the audit entries, or not at all.

The three commands (``/breakglass``, ``/approve``, ``/deny``) are declared ``admin=True``:
the dispatcher refuses everyone else before they run, through :func:`refuse`, which
records the refusal the way the state machine records its own. The state machine still
checks the actor itself, for every caller that is not the dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from medcrypt.bot.commands.admins import is_admin
from medcrypt.bot.commands.context import Context
from medcrypt.bot.domain.breakglass import requests
from medcrypt.bot.domain.i18n import N_
from medcrypt.bot.domain.messages import OutboundMessage, OutKind
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.errors import ConfigError
from medcrypt.storage.db import Session

NOT_CONFIGURED = N_("Break-glass is not configured: {key}.")
Handler = Callable[[Services, Session, requests.Actor, Sequence[str]], requests.Outcome]


def refuse(ctx: Context, name: str) -> None:
    """A non-admin tried ``/<name>``: a chained ``admin.refused`` entry and the reply."""
    ctx.say(requests.refuse(ctx.services, ctx.session, ctx.sender_id, name).reply)


def run(ctx: Context, args: list[str], handler: Handler) -> None:
    actor = requests.Actor(ctx.sender_id, is_admin(ctx, ctx.sender_id))
    ctx.keep_identity = True  # audit entries name this sender
    try:
        outcome = handler(ctx.services, ctx.session, actor, args)
    except ConfigError as exc:
        ctx.say(NOT_CONFIGURED, key=exc.key)
        return
    for identity_id, text in outcome.notices:
        ctx.tell(identity_id, text)
    if outcome.document is not None and outcome.document_to is not None:
        ctx.relay_file(outcome.document_to, OutboundMessage(
            recipient_id=outcome.document_to, kind=OutKind.FILE, document=outcome.document))
    ctx.say(outcome.reply)
