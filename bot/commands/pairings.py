"""/pairings [page]: the admins' list of pairings by tag, newest first.

What an admin needs to find a pairing for ``/shred`` or ``/breakglass`` without a hex
id only a companion shows: its tag, its members' platforms, its status and its last
activity (a date). Nothing else - no address, no masked number, no count of messages:
the tag is a pseudonym and the list must not become a directory of patients. One page
holds :data:`PAGE` pairings; the reply is split to the platform's limit like any other.
"""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import notices
from medcrypt.bot.domain.i18n import N_, SOURCE_LANGUAGE, Nn_, msg, msg_plural, translate
from medcrypt.bot.domain.names import shown
from medcrypt.storage.repos.pairings import Listed, listing

USAGE = N_("/pairings [page]")
#: Pairings per page: about two Telegram messages, three WhatsApp messages.
PAGE = 50
HEADER = N_("Pairings {first}-{last} of {total}, newest first (tag: physician, patient; status):")
MORE = N_("More: /pairings {page}")
NONE = N_("No pairings yet.")
LINE = N_("{tag}: {physician}, {patient}; {status}; last activity {last}")
EMPTY_PAGE = Nn_("There is {n} pairing; page {page} is empty.",
                 "There are {n} pairings; page {page} is empty.")
NO_PATIENT = N_("no patient yet")


def line(p: Listed, language: str = SOURCE_LANGUAGE) -> str:
    status = (translate(language, notices.PAIRING_SHREDDED_WORD) if p.shredded_at is not None
              else notices.status_word(language, p.status))
    patient = p.patient_platform or translate(language, NO_PATIENT)
    return translate(language, LINE, tag=shown(p.pairing_id, p.tag),
                     physician=p.physician_platform, patient=patient, status=status,
                     last=f"{p.last_activity:%Y-%m-%d}")


@command("pairings", help=USAGE, admin=True)
def run(ctx: Context, args: list[str]) -> None:
    if len(args) > 1 or (args and (not args[0].isdigit() or int(args[0]) < 1)):
        ctx.say(notices.BAD_ARGUMENTS, usage=msg(USAGE))
        return
    page = int(args[0]) if args else 1
    total, rows = listing(ctx.session, offset=(page - 1) * PAGE, limit=PAGE)
    if not rows:
        if total == 0:
            ctx.say(NONE)
        else:
            ctx.say(msg_plural(EMPTY_PAGE, total, page=page))
        return
    first = (page - 1) * PAGE + 1
    lines = [translate(ctx.lang, HEADER, first=first, last=first + len(rows) - 1, total=total)]
    lines += [line(p, ctx.lang) for p in rows]
    if first + len(rows) - 1 < total:
        lines.append(translate(ctx.lang, MORE, page=page + 1))
    ctx.reply("\n".join(lines))
