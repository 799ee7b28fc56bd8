"""Rejoin a token a chat app split while pasting; guard the pieces that stay alone.

Telegram clients cut a paste longer than 4096 characters into messages sent back to
back (:mod:`bot.relay.guard` rule 4). The pieces of one paste form a *run*: a head,
middles, then a tail that closes it. The relay keeps the run's pieces
(``pending_fragments``) and, when the tail comes, hands the rejoined token back to the
router, which handles it like any token; the pieces stay in the chat, as a token would.

What happens to pieces that are never rejoined is decided when each piece arrives: the
relay queues, due :data:`WINDOW` after the latest piece, the withdrawal of every piece
of the run (where the sender's platform can delete) and one notice. A further piece
pushes them back; the tail cancels them. So the database holds the decision, and a
restart, a second replica or a sender who never writes again cannot leave pieces
unguarded; nothing else needs a timer.

:data:`WINDOW` is 10 seconds: a client sends the pieces of one paste back to back,
within a second on a working connection; the window also covers a slow mobile link
and the bot's own handling (a long-poll round, a busy database) without leaving a
piece the sender meant as one in their chat for long. It is measured on the bot's
injected clock, from the latest piece.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from medcrypt.bot.commands.context import Context
from medcrypt.bot.domain import notices
from medcrypt.bot.domain.i18n import translate_plural
from medcrypt.bot.domain.messages import OutboundMessage, OutKind
from medcrypt.bot.outbox import queue
from medcrypt.bot.relay import guarding
from medcrypt.bot.relay.guard import Leftover, Piece, PieceKind, read
from medcrypt.crypto.keyless.wire import MAX_TOKEN_CHARS, Token
from medcrypt.storage.repos import fragments as rows
from medcrypt.storage.repos import outbox as outbox_rows
from medcrypt.storage.repos.fragments import Run

#: How long the relay waits, after the latest piece of a paste, for the rest of it.
WINDOW = timedelta(seconds=10)
#: Run ids are random: two pastes of one sender never share deferred rows.
_RUN_ID_BYTES = 8


def take(ctx: Context, piece: Piece) -> tuple[str, Token] | None:
    """Keep ``piece``; return the rejoined token when ``piece`` completed its paste.

    The caller checked that the chat is paired (pieces of strangers are not kept).
    """
    now = ctx.services.clock.now()
    run = rows.open_run(ctx.session, ctx.sender_id)
    if run is not None and now - run.last_at >= WINDOW:
        # Its deferred withdrawals are due (or done): only its rows are left to drop.
        rows.drop_runs(ctx.session, ctx.sender_id)
        run = None
    if piece.kind is PieceKind.HEAD:
        if run is not None:  # a new paste: the unfinished one will not complete
            _give_up(ctx, run, now)
            ctx.audit("plaintext_blocked", platform=ctx.message.platform.value,
                      what="fragments")
        _keep(ctx, ctx.services.rng(_RUN_ID_BYTES).hex(), 0, piece, now, first=True)
        return None
    if run is None:
        guarding.block(ctx, "fragment", notices.PIECE_STRAY)
        return None
    joined = "".join(run.texts) + piece.text
    if len(joined) > MAX_TOKEN_CHARS:
        _give_up(ctx, run, now)
        guarding.block(ctx, "fragment", notices.MALFORMED)
        return None
    if piece.kind is PieceKind.MIDDLE:
        _keep(ctx, run.run_id, len(run.texts), piece, now, first=False)
        outbox_rows.reschedule_deferred(ctx.session, _keys(run.run_id, len(run.texts) + 1),
                                        now + WINDOW, now)
        return None
    reading = read(joined)
    if len(reading.tokens) != 1 or reading.leftover is not Leftover.NONE:
        _give_up(ctx, run, now)
        guarding.block(ctx, "fragment", notices.MALFORMED)
        return None
    rows.drop_runs(ctx.session, ctx.sender_id)
    outbox_rows.cancel_deferred(ctx.session, _keys(run.run_id, len(run.texts)))
    return reading.tokens[0]


def _keys(run_id: str, pieces: int) -> list[str]:
    """The dedupe keys of a run's deferred rows: one notice, one withdrawal per piece."""
    return [f"guard:{run_id}:notice"] + [f"guard:{run_id}:{seq}" for seq in range(pieces)]


def _keep(ctx: Context, run_id: str, seq: int, piece: Piece, now: datetime, *,
          first: bool) -> None:
    """Store a piece and queue what happens if its run never completes."""
    if first:
        rows.drop_runs(ctx.session, ctx.sender_id)
    if not rows.add_piece(ctx.session, sender_id=ctx.sender_id, run_id=run_id, seq=seq,
                          text=piece.text, now=now):
        return  # redelivered: already kept, its rows already queued
    due = now + WINDOW
    if first:
        text = translate_plural(ctx.lang, notices.PIECES_INCOMPLETE,
                                int(WINDOW.total_seconds()))
        queue.enqueue_deferred(
            ctx.session, OutboundMessage(ctx.sender_id, OutKind.NOTICE),
            f"{text} {guarding.removal(ctx.channel, ctx.lang)}", key=f"guard:{run_id}:notice",
            due=due, now=now)
    message_id = ctx.message.platform_message_id
    if ctx.channel.deletes_messages and message_id is not None:
        queue.enqueue_deferred(ctx.session, OutboundMessage(ctx.sender_id, OutKind.WITHDRAW),
                               message_id, key=f"guard:{run_id}:{seq}", due=due, now=now)


def _give_up(ctx: Context, run: Run, now: datetime) -> None:
    """Guard an unfinished run now: its withdrawals and notice become due at once."""
    rows.drop_runs(ctx.session, ctx.sender_id)
    outbox_rows.reschedule_deferred(ctx.session, _keys(run.run_id, len(run.texts)), now, now)
