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
from medcrypt.bot.domain.names import shown
from medcrypt.storage.repos.pairings import Listed, listing

USAGE = "/pairings [page]"
#: Pairings per page: about two Telegram messages, three WhatsApp messages.
PAGE = 50
HEADER = "Pairings {first}-{last} of {total}, newest first (tag: physician, patient; status):"
MORE = "More: /pairings {page}"
NONE = "No pairings yet."
STATUS_WORDS = {"pending": "waiting for the patient", "active": "active",
                "unpaired": "ended", "erased": "ended, a member's data erased"}
NO_PATIENT = "no patient yet"


def line(p: Listed) -> str:
    status = "shredded" if p.shredded_at is not None else STATUS_WORDS.get(p.status, p.status)
    patient = p.patient_platform or NO_PATIENT
    return (f"{shown(p.pairing_id, p.tag)}: {p.physician_platform}, {patient}; {status}; "
            f"last activity {p.last_activity:%Y-%m-%d}")


@command("pairings", help=USAGE, admin=True)
def run(ctx: Context, args: list[str]) -> None:
    if len(args) > 1 or (args and (not args[0].isdigit() or int(args[0]) < 1)):
        ctx.reply(notices.BAD_ARGUMENTS.format(usage=USAGE))
        return
    page = int(args[0]) if args else 1
    total, rows = listing(ctx.session, offset=(page - 1) * PAGE, limit=PAGE)
    if not rows:
        ctx.reply(NONE if total == 0 else f"There are {total} pairings; page {page} is empty.")
        return
    first = (page - 1) * PAGE + 1
    lines = [HEADER.format(first=first, last=first + len(rows) - 1, total=total)]
    lines += [line(p) for p in rows]
    if first + len(rows) - 1 < total:
        lines.append(MORE.format(page=page + 1))
    ctx.reply("\n".join(lines))
