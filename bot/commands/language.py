"""/language es|en: the language of the relay's replies to this person, from now on.

The choice is stored with the identity (a catalog code only) and marked as chosen, so
the person's app language (Telegram's ``language_code``) no longer overrides it, and
scheduled notices use it too (docs/adr/0035). The confirmation is written in the
language just chosen: it is the proof the switch worked.
"""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import i18n, notices
from medcrypt.storage.repos import identities


@command("language", help="/language es|en")
def run(ctx: Context, args: list[str]) -> None:
    chosen = i18n.from_code(args[0]) if len(args) == 1 else None
    if chosen is None:
        ctx.say(notices.LANGUAGE_USAGE)
        return
    ctx.keep_identity = True  # a stranger's choice is worth keeping: it is all they sent
    identities.set_language(ctx.session, ctx.sender_id, chosen, chosen=True)
    ctx.lang = chosen
    ctx.say(notices.LANGUAGE_SET)
