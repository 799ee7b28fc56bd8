"""/audit_verify: walk the whole hash chain and the signed checkpoints (admins).

Verification reads every entry, so it runs after commit in a worker thread (see
:mod:`bot.commands.deferral`), never on the event loop. The reply is
:func:`bot.domain.audit_chat.render_verify_reply`: OK with counts, or the first bad sequence
number and why - never details or references.
"""

from __future__ import annotations

from collections.abc import Mapping

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain.audit_chat import render_verify_reply
from medcrypt.crypto.errors import AuditChainBroken
from medcrypt.crypto.server.audit.checkpoint import AuditPublicKey
from medcrypt.storage.audit import AuditLog


def verify_text(log: AuditLog, keys: Mapping[bytes, AuditPublicKey]) -> str:
    try:
        report = log.verify(keys)
    except AuditChainBroken as exc:
        return render_verify_reply(exc)
    return render_verify_reply(report)


@command("audit_verify", help="/audit_verify", admin=True)
def run(ctx: Context, args: list[str]) -> None:
    audit = ctx.services.audit
    keys = dict(ctx.services.audit_public_keys)
    ctx.deferred.append(lambda: verify_text(audit, keys))
