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

import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from medcrypt.bot.commands.admins import is_admin
from medcrypt.bot.commands.context import Context
from medcrypt.bot.domain.breakglass import requests
from medcrypt.bot.domain.messages import OutboundMessage, OutKind
from medcrypt.crypto.errors import ConfigError
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.audit import AuditLog
from medcrypt.storage.db import Engine, Session

Handler = Callable[[requests.Deps, Session, requests.Actor, Sequence[str]], requests.Outcome]
#: Per engine (weak keys: a disposed engine's entry goes with it; ids could be reused).
_AUDIT_LOGS: weakref.WeakKeyDictionary[Engine, AuditLog] = weakref.WeakKeyDictionary()
_READY: weakref.WeakSet[Engine] = weakref.WeakSet()
NOT_READY = ("Break-glass is preparing the audit log (its first use on this database). "
             "Send the command again in a few seconds.")


def _audit_log(engine: Engine, keyring: Keyring, ctx: Context) -> AuditLog:
    """One audit log per engine, so the pseudonym secret is loaded once per process."""
    log = _AUDIT_LOGS.get(engine)
    if log is None:
        log = AuditLog(engine, keyring, clock=ctx.services.clock)
        _AUDIT_LOGS[engine] = log
    return log


def _audit_ready(ctx: Context, engine: Engine, log: AuditLog) -> bool:
    """Load the audit pseudonym secret without waiting on our own transaction's lock.

    The audit log reads (and on first use creates) its pseudonym secret on a connection
    of its own. Inside the inbound message's transaction, which already holds SQLite's
    write lock, creating it would wait on ourselves. So: if the secret exists, load it
    (a read, fine under WAL); if not, create it from a background thread that gets the
    lock once this message's transaction ends, and ask the admin to resend - before
    anything of break-glass has been written, so nothing commits unaudited.
    """
    if engine in _READY:
        return True
    if log.pseudonym_secret_exists(session=ctx.session):
        log.pseudonym("pairing", "warm-up")
        _READY.add(engine)
        return True
    threading.Thread(target=log.pseudonym, args=("pairing", "warm-up"),
                     name="breakglass-audit-warm-up", daemon=True).start()
    return False


def deps_for(ctx: Context) -> requests.Deps:
    settings = ctx.services.settings
    keyring = ctx.services.keyring
    if keyring is None:  # the bot always passes its own; a bare test intake does not
        raise ConfigError("keyring.server_keys_env",
                          "break-glass needs the server keyring the bot was started with")
    bind: Any = ctx.session.get_bind()
    engine: Engine = bind.engine if hasattr(bind, "engine") else bind
    return requests.Deps(settings=settings, keyring=keyring,
                         audit=_audit_log(engine, keyring, ctx), clock=ctx.services.clock,
                         rng=ctx.services.rng)


def run(ctx: Context, args: list[str], handler: Handler) -> None:
    actor = requests.Actor(ctx.sender_id, is_admin(ctx, ctx.sender_id))
    ctx.keep_identity = True  # audit entries name this sender
    try:
        deps = deps_for(ctx)
    except ConfigError as exc:
        ctx.reply(f"Break-glass is not configured: {exc.key}.")
        return
    bind: Any = ctx.session.get_bind()
    if not _audit_ready(ctx, bind.engine if hasattr(bind, "engine") else bind, deps.audit):
        ctx.reply(NOT_READY)
        return
    try:
        outcome = handler(deps, ctx.session, actor, args)
    except ConfigError as exc:
        ctx.reply(f"Break-glass is not configured: {exc.key}.")
        return
    for identity_id, text in outcome.notices:
        ctx.notify(identity_id, text)
    if outcome.document is not None and outcome.document_to is not None:
        ctx.relay_file(outcome.document_to, OutboundMessage(
            recipient_id=outcome.document_to, kind=OutKind.FILE, document=outcome.document))
    ctx.reply(outcome.reply)
