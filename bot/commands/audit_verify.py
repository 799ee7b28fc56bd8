"""/audit_verify [witness line]: walk the whole hash chain, the signed checkpoints and
their coverage, and the witness line pasted after the command on the same line (admins;
a command is one line, guard rule 1).

Verification reads every entry, so it runs after commit in a worker thread (see
:mod:`bot.commands.deferral`), never on the event loop. The reply is
:func:`bot.domain.audit_chat.render_verify_reply`: OK - "witnessed up to seq N" when
witness lines came with the command, "not witnessed" otherwise - with counts, or the
first bad sequence number and why; never details or references. Witness lines are
what a database writer cannot rewrite: the admin pastes the latest one from this chat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain.audit_chat import parse_witness_text, render_verify_reply
from medcrypt.bot.domain.i18n import N_, SOURCE_LANGUAGE
from medcrypt.crypto.errors import AuditChainBroken, MalformedToken
from medcrypt.crypto.server.audit import Witness
from medcrypt.crypto.server.audit.checkpoint import AuditPublicKey
from medcrypt.storage.audit import AuditLog

BAD_WITNESS = N_("That witness line does not parse: paste the whole MEDCRYPT-AUDIT line as the "
                 "bot posted it, after /audit_verify.")


def verify_text(log: AuditLog, keys: Mapping[bytes, AuditPublicKey],
                witnesses: Sequence[Witness] = (), language: str = SOURCE_LANGUAGE) -> str:
    try:
        report = log.verify(keys, witnesses=witnesses)
    except AuditChainBroken as exc:
        return render_verify_reply(exc, language=language)
    return render_verify_reply(report, witnesses_given=len(witnesses), language=language)


@command("audit_verify", help=N_("/audit_verify [witness line]"), admin=True)
def run(ctx: Context, args: list[str]) -> None:
    try:
        # The arguments are the line's words; a witness line is single-spaced, so
        # joining them gives it back as the bot posted it.
        witnesses = parse_witness_text(" ".join(args))
    except MalformedToken:
        ctx.say(BAD_WITNESS)
        return
    audit = ctx.services.audit
    keys = dict(ctx.services.audit_public_keys)
    language = ctx.lang
    ctx.deferred.append(lambda: verify_text(audit, keys, witnesses, language))
