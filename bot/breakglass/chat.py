"""Plug the break-glass state machine into the bot's chat command dispatcher.

:func:`run` adapts a :class:`bot.relay.context.Context` (the one transaction of the
inbound message) to :mod:`bot.breakglass.requests`: it resolves whether the sender is an
admin, builds the dependencies (server keyring, audit log on the same engine), and turns
the :class:`~bot.breakglass.requests.Outcome` into queued replies, notices and the bundle
document - all committed together with the audit entries, or not at all.

The three command modules (``cmd_breakglass``, ``cmd_approve``, ``cmd_deny``) have the
``NAME``/``ADMIN``/``USAGE``/``run`` shape of ``bot.commands``. ``ADMIN`` is False on
purpose: the admin check happens here so that a refusal lands in the hash-chained audit
log, not only in the process log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.breakglass import requests
from bot.commands.admins import is_admin
from bot.messages import OutboundMessage, OutKind
from bot.relay.context import Context
from crypto.errors import ConfigError
from crypto.keyring import Keyring
from storage.audit import AuditLog

Handler = Callable[[requests.Deps, Session, requests.Actor, Sequence[str]], requests.Outcome]
_AUDIT_LOGS: dict[int, AuditLog] = {}


def _audit_log(engine: Engine, keyring: Keyring, ctx: Context) -> AuditLog:
    """One audit log per engine, so the pseudonym secret is loaded once per process."""
    log = _AUDIT_LOGS.get(id(engine))
    if log is None:
        log = AuditLog(engine, keyring, clock=ctx.services.clock)
        _AUDIT_LOGS[id(engine)] = log
    return log


def deps_for(ctx: Context) -> requests.Deps:
    settings = ctx.services.settings
    keyring = Keyring.from_environ(None, env_name=settings.keyring.server_keys_env)
    bind: Any = ctx.session.get_bind()
    engine: Engine = bind.engine if hasattr(bind, "engine") else bind
    return requests.Deps(settings=settings, keyring=keyring,
                         audit=_audit_log(engine, keyring, ctx), clock=ctx.services.clock,
                         rng=ctx.services.rng)


def run(ctx: Context, args: list[str], handler: Handler) -> None:
    actor = requests.Actor(ctx.sender_id, is_admin(ctx, ctx.sender_id))
    ctx.keep_identity = True  # audit entries name this sender
    try:
        outcome = handler(deps_for(ctx), ctx.session, actor, args)
    except ConfigError as exc:
        ctx.reply(f"Break-glass is not configured: {exc.key}.")
        return
    for identity_id, text in outcome.notices:
        ctx.notify(identity_id, text)
    if outcome.document is not None and outcome.document_to is not None:
        ctx.relay_file(outcome.document_to, OutboundMessage(
            recipient_id=outcome.document_to, kind=OutKind.FILE, document=outcome.document))
    ctx.reply(outcome.reply)
