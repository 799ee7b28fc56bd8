"""/start: what a new chat with the bot opens with.

Patients and physicians get the platform warning and how to use the companion. A clinic
admin gets what they came for instead: what the admin commands are, and that the audit
witness lines will arrive in this chat (issue 16: an admin greeted by a witness line
learned nothing about how to use the bot).
"""

from __future__ import annotations

from medcrypt.bot.commands.admins import is_admin
from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.help import admin_help, member_help
from medcrypt.bot.commands.registry import command
from medcrypt.bot.domain import notices
from medcrypt.bot.domain.i18n import N_

ADMIN_WELCOME = (
    N_("Welcome, clinic admin. This chat now receives the audit log's witness lines (signed "
       "checkpoints of the log's head, kept here so a database writer cannot rewrite "
       "history unseen). Pairings are named by short tags like K7Q-2MX: /pairings lists "
       "them with their members' platforms and last activity; /shred and /breakglass take "
       "a tag. /stats and /jobs show how the relay is doing.")
)


@command("start", help="/start", listed=False)
def run(ctx: Context, args: list[str]) -> None:
    if is_admin(ctx, ctx.sender_id):
        ctx.keep_identity = True  # the witness lines need this chat
        ctx.say(ADMIN_WELCOME)
        ctx.reply(admin_help(ctx.lang))
        return
    ctx.say(notices.PLATFORM_WARNING, platform=ctx.channel.display_name)
    ctx.reply(member_help(ctx.lang))
