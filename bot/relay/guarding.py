"""The plaintext guard's actions: block, tell, remove where the platform allows.

:mod:`bot.relay.guard` decides what of a message is guarded; this module does it,
inside the message's transaction. Whether a message can be removed is the sender's
channel's to say (:attr:`bot.domain.channels.Channel.deletes_messages`); *how* it is
removed is the adapter's (the ``delete_message`` flag of the handling, or a
:data:`~bot.domain.messages.OutKind.WITHDRAW` row when the decision comes later).
"""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.domain import notices, pairings
from medcrypt.bot.domain.channels import Channel
from medcrypt.bot.domain.i18n import translate
from medcrypt.bot.domain.messages import Media
from medcrypt.bot.relay.guard import Leftover

#: Leftover → (audit ``what``, notice in a paired chat, answer outside one).
_LEFTOVER: dict[Leftover, tuple[str, str, str]] = {
    Leftover.V1: ("v1_token", notices.V1_REFUSED, notices.V1_REFUSED),
    Leftover.UNKNOWN_KIND: ("unknown_kind", notices.UNKNOWN_KIND, notices.UNKNOWN_KIND),
    Leftover.MALFORMED: ("malformed_token", notices.MALFORMED, notices.MALFORMED),
    Leftover.COMMAND: ("command", notices.COMMAND_BLOCKED, notices.UNKNOWN_COMMAND),
    Leftover.TEXT: ("text", notices.PLAINTEXT_BLOCKED, notices.UNPAIRED_TEXT),
}
_MEDIA: dict[Media, tuple[str, str]] = {
    Media.LOCATION: ("location", notices.LOCATION_BLOCKED),
    Media.OTHER: ("media", notices.MEDIA_BLOCKED),
    Media.EDIT: ("edit", notices.EDIT_BLOCKED),
}


def paired(ctx: Context) -> bool:
    """Whether the sender's chat is a paired chat (a pending or active pairing)."""
    return bool(pairings.pairings_of(ctx, ctx.sender_id))


def removal(channel: Channel, language: str) -> str:
    """How a guard notice ends on ``channel``: removed, or please remove it yourself."""
    if channel.deletes_messages:
        return translate(language, notices.REMOVED)
    return translate(language, notices.REMOVE_IT_YOURSELF, platform=channel.display_name)


def emergency_line(ctx: Context) -> str:
    """The clinic's configured emergency wording in the sender's language, said after a
    refused plain text."""
    clinic = ctx.services.settings.clinic
    return notices.emergency(clinic.emergency_text_for(ctx.lang), clinic.emergency_number,
                             ctx.lang)


def block(ctx: Context, what: str, notice: str, *, urgent: bool = False) -> None:
    """Guard this message in a paired chat: removed where possible, audited, told.

    ``notice`` is a msgid of :mod:`bot.domain.notices`, told in the sender's language.

    ``urgent``: the message held words a person typed, which may be a call for help, so
    the reply ends with the clinic's emergency wording.
    """
    ctx.delete_message = True
    ctx.audit("plaintext_blocked", platform=ctx.message.platform.value, what=what)
    ctx.refused(f"blocked_{what}")
    reply = f"{translate(ctx.lang, notice)} {removal(ctx.channel, ctx.lang)}"
    ctx.reply(f"{reply}\n{emergency_line(ctx)}" if urgent else reply)


def settle(ctx: Context, leftover: Leftover, *, carried: bool) -> None:
    """Guard what a message leaves after its tokens, document and pieces were handled.

    ``carried``: something of the message was a token or an encrypted file (relayed,
    or refused with its reason), so plain words get "the words with your encrypted
    message were not sent".
    """
    media = ctx.message.media
    if ctx.delete_message or (media is None and leftover is Leftover.NONE):
        return  # nothing left, or already guarded (an unencrypted file): one notice
    if not paired(ctx):
        ctx.refused("not_paired")
        if media is not None or leftover is Leftover.NONE:
            ctx.say(notices.UNPAIRED_TEXT)
        elif leftover is Leftover.TEXT:
            ctx.reply(f"{translate(ctx.lang, notices.UNPAIRED_TEXT)}\n{emergency_line(ctx)}")
        else:
            ctx.say(_LEFTOVER[leftover][2])
        return
    if media is not None:
        block(ctx, *_MEDIA[media])
        return
    what, notice, _outside = _LEFTOVER[leftover]
    block(ctx, what, notices.WORDS_BLOCKED if carried and leftover is Leftover.TEXT
          else notice, urgent=leftover is Leftover.TEXT)
