"""Telegram through python-telegram-bot v22: inbound updates in, outbox deliveries out.

Why no ``AIORateLimiter``: PTB's stock limiter pauses *every* request when any chat
gets a 429. Here a 429 surfaces as :class:`bot.outbox.errors.RetryAfter` and the outbox
delays only that chat's rows. Why no PTB ``Updater``: it confirms updates before they
are handled (see :mod:`bot.adapters.tg_polling`), which loses messages on a crash.
PTB's ``Bot`` still makes every API call. Webhook mode registers ``secret_token`` with
Telegram; requests without the matching ``X-Telegram-Bot-Api-Secret-Token`` get 403.

The platform loop - long polling, or the webhook listener - is :meth:`TelegramAdapter.run`,
which the app supervises (restart on any failure); updates are parsed one by one
(:mod:`bot.adapters.tg_updates`), so an update PTB cannot read is skipped and audited
instead of stopping Telegram.

Idempotency: the key recorded for an inbound message is the update id with the
message's date (storage keeps its SHA-256): the same update posted again - redelivered,
or a captured webhook replayed - has both. Not a keyed hash, which would change when
the server keys rotate; no chat id. The date is there because Telegram numbers updates
from a random start again after a week without any, and keys are kept far longer.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Message, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    TelegramError,
    TimedOut,
)
from telegram.error import RetryAfter as TgRetryAfter
from telegram.ext import Application, ApplicationBuilder

from medcrypt.bot.adapters.http_listener import Listener
from medcrypt.bot.adapters.pacing import Pacer
from medcrypt.bot.adapters.replies import PacedReplies
from medcrypt.bot.adapters.shapes import telegram_media
from medcrypt.bot.adapters.tg_polling import Poller, retry_after_seconds
from medcrypt.bot.adapters.tg_request import AiohttpRequest
from medcrypt.bot.adapters.tg_updates import (
    NotAnUpdate,
    Unparseable,
    parse_batch,
    parse_webhook_body,
)
from medcrypt.bot.domain.config import Settings
from medcrypt.bot.domain.health import LoopHealth
from medcrypt.bot.domain.messages import Document, Media, OutKind, Platform
from medcrypt.bot.domain.sender import Delivery
from medcrypt.bot.domain.splitting import split_reply, utf16_units
from medcrypt.bot.outbox.errors import Permanent, RetryAfter, Transient, Unreachable
from medcrypt.bot.outbox.pacing import ReplySlot
from medcrypt.bot.relay.intake import Intake, Outcome
from medcrypt.crypto.errors import ConfigError, TransportError

log = structlog.get_logger("bot.telegram")

# Opt in to PTB 22's future behaviour (retry_after as a timedelta) so PTB does not warn
# on every 429; retry_after_seconds() accepts both forms.
os.environ.setdefault("PTB_TIMEDELTA", "1")

#: The name of Telegram's platform loop in :class:`~bot.domain.health.LoopHealth`.
LOOP_NAME = "telegram"
#: The updates the bot asks for: messages, their edits (guard rule 8 deletes those), and
#: changes of the bot's own membership in a chat - how Telegram tells a bot that a user
#: blocked it (or unblocked it) before a send fails.
ALLOWED_UPDATES = ("message", "edited_message", "my_chat_member")
#: The 403 texts that mean "this user must write to the bot first".
_UNREACHABLE = re.compile(r"can't initiate conversation|blocked by the user", re.IGNORECASE)
#: A command addressed to a bot by name (``/help@clinic_bot``), as Telegram clients send it.
_ADDRESSED_COMMAND = re.compile(r"^(\s*/[^\s@]*)@\S*")


def _host(url: str) -> str:
    """Where a base URL points (scheme, host and port), for a message: no path, no token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def command_text(text: str | None) -> str | None:
    """``/help@clinic_bot args`` -> ``/help args``: the relay reads commands by name only."""
    return None if text is None else _ADDRESSED_COMMAND.sub(r"\1", text, count=1)


def addressed_elsewhere(text: str | None, username: str | None) -> bool:
    """True for ``/command@OtherBot``: a command a client addressed to another bot.

    Telegram clients add ``@botname`` when a user picks a command from another bot's
    menu; answering it would make this bot act on a command the user gave someone else.
    Bot usernames are case-insensitive. Without a known username nothing is skipped.
    """
    match = _ADDRESSED_COMMAND.match(text or "")
    if match is None or not username:
        return False
    addressee = text[match.end(1) + 1:match.end()] if text else ""
    return addressee.lower() != username.lower()


#: What the poller asks before each long poll when replicas share the bot (``bot.app``
#: passes the keeper's view of the ``telegram_poller`` lease): (epoch, seconds the call
#: may take), or None while another replica holds the poll.
PollLease = Callable[[], tuple[int, float] | None]
#: What a poll leaves its own request to reach Telegram: the long poll's timeout is the
#: budget minus one second (issue 18) minus this, so a request that left a moment late
#: still ends at Telegram before the lease can pass.
SEND_SLACK_S = 0.5
#: Below this budget no poll starts (it would be shorter than a second): it waits for
#: the lease to be renewed.
MIN_POLL_BUDGET_S = 1.0 + SEND_SLACK_S + 1.0
#: A replica that gains the poll waits this long before its first getUpdates. The
#: holder before it may be alive but starved of CPU (why it lost the lease), with a poll
#: that left it late and that Telegram has not ended yet; polling at once would end
#: that poll with a 409 Conflict. It adds this much to a failover.
HANDOVER_S = 1.0
#: How often a replica that does not hold the poll looks again.
IDLE_POLL_WAIT_S = 0.25
#: The header that tags a long poll with the lease epoch it runs under (and a random,
#: per-process caller tag, no host name): the sandbox records it, so the tests can prove
#: no two polls overlap; Telegram ignores it.
POLL_TAG_HEADER = "X-Medcrypt-Poll"


async def _not_audited(update_id: int) -> None:
    """Default for ``on_unparseable``: the skip is logged by the poller only."""


class TelegramAdapter:
    def __init__(self, settings: Settings, token: str, intake: Intake,
                 on_accepted: Callable[[], None], *, webhook_secret: str = "",
                 on_unparseable: Callable[[int], Awaitable[None]] = _not_audited,
                 on_refused: Callable[[str, str], Awaitable[None]] | None = None,
                 health: LoopHealth | None = None, poll_lease: PollLease | None = None,
                 poll_tag: str = "", outbox_paced: bool = False,
                 reply_slot: ReplySlot | None = None) -> None:
        self._settings = settings
        #: None: this process is the only poller (SQLite, or a single replica).
        self._poll_lease = poll_lease
        self._poll_tag = poll_tag
        #: The epoch this process last polled under, and when it may first poll under it.
        self._poll_epoch: int | None = None
        self._poll_from = 0.0
        #: The deadline of the long poll in flight (None: none, or no lease).
        self._poll_cut: asyncio.Timeout | None = None
        self._poll_aborted = False
        self._intake = intake
        self._on_accepted = on_accepted
        self._webhook_secret = webhook_secret
        #: Audits an update that was skipped unread (by its id only).
        self._on_unparseable = on_unparseable
        #: ``(platform, reason)`` of a webhook request refused with 403, for the audit log.
        self._on_refused = on_refused
        self._health = health or LoopHealth()
        self._poll_request = AiohttpRequest(
            1, connect_timeout=settings.telegram.request_timeout_seconds,
            read_timeout=(settings.telegram.request_timeout_seconds
                          + settings.telegram.poll_timeout_seconds),
            write_timeout=settings.telegram.request_timeout_seconds,
            pool_timeout=settings.telegram.request_timeout_seconds)
        self.app: Application = self._build(token)  # type: ignore[type-arg]
        #: The webhook listener (webhook mode, once started); polling has none.
        self.listener: Listener | None = None
        self._pacer = Pacer(settings.telegram.global_messages_per_second)
        #: Outbox sends: paced by the claim when the replicas share the pacing.
        self._send_pacer = Pacer(0) if outbox_paced else self._pacer
        #: Direct replies take shared slots when the replicas share the pacing, sent by
        #: a task of their own (else this process's pacer paces them with the outbox's).
        self._replies = None if reply_slot is None else PacedReplies(
            Platform.TELEGRAM, reply_slot, self._send_reply)

    def _build(self, token: str) -> Application:  # type: ignore[type-arg]
        tg = self._settings.telegram
        timeout = tg.request_timeout_seconds
        return (
            ApplicationBuilder()
            .token(token)
            .base_url(tg.api_base_url)
            .base_file_url(tg.api_file_url)
            .request(AiohttpRequest(tg.connection_pool_size, connect_timeout=timeout,
                                    read_timeout=timeout, write_timeout=timeout,
                                    pool_timeout=timeout))
            .get_updates_request(self._poll_request)
            .updater(None)
            .build()
        )

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Initialise PTB and tell Telegram how updates will arrive; :meth:`run` then
        receives them.

        A failure is raised as the project's own error - :class:`TransportError` for a
        Bot API that cannot be reached (worth another attempt), :class:`ConfigError`
        for a token it rejects (not) - never PTB's: ``InvalidToken`` quotes the token.
        A failed start releases what it opened, so that it can be tried again and
        leaves no "Unclosed client session" behind (:meth:`_release`).
        """
        try:
            await self._start()
        except (Forbidden, InvalidToken):
            await self._release()
            raise ConfigError("telegram.token_env", "the Bot API rejected the token in "
                              f"${self._settings.telegram.token_env}") from None
        except TelegramError as exc:
            await self._release()
            what = "unreachable" if isinstance(exc, NetworkError) else "refused the start"
            where = _host(self._settings.telegram.api_base_url)
            raise TransportError(f"Telegram Bot API at {where} {what} "
                                 f"({type(exc).__name__})") from None
        except BaseException:
            await self._release()
            raise

    async def _release(self) -> None:
        """Undo a failed start. PTB's ``Application.shutdown`` returns at once for an
        application whose ``initialize`` failed, but its bot has opened its HTTP
        sessions by then; ``Bot.shutdown`` closes them and marks the bot uninitialised,
        so the next ``initialize`` opens them again."""
        await self.app.shutdown()
        await self.app.bot.shutdown()

    async def _start(self) -> None:
        tg = self._settings.telegram
        await self.app.initialize()
        if tg.mode == "webhook":
            await self.app.bot.set_webhook(url=tg.webhook_url, secret_token=self._webhook_secret,
                                           allowed_updates=list(ALLOWED_UPDATES))
            self.listener = Listener(self.webhook_app(), host=tg.listen_host,
                                     port=tg.listen_port,
                                     max_body_bytes=tg.webhook_max_body_bytes,
                                     endpoint="telegram_webhook")
        else:
            await self.app.bot.delete_webhook(drop_pending_updates=False)

    async def run(self, ready: Callable[[], None]) -> None:
        """Telegram's platform loop until stopped: the webhook listener, or long polling
        (stopped by cancelling it: nothing is confirmed before it is committed)."""
        if self.listener is not None:
            await self.listener.run(ready)
            return
        poller = Poller(self._get_updates, self.handle_update,
                        on_unparseable=self._on_unparseable, report=self._report)
        ready()
        await poller.run()

    def stop_loop(self) -> Callable[[], None] | None:
        """How to ask :meth:`run` to return; None: cancel it."""
        return self.listener.stop if self.listener is not None else None

    async def stop(self) -> None:
        """Send the direct replies still queued (a moment at most), then release PTB's
        connections (after the loop has stopped)."""
        if self._replies is not None:
            await self._replies.drain(self._settings.telegram.request_timeout_seconds)
        await self.app.shutdown()

    def _report(self, up: bool, reason: str) -> None:
        if up:
            self._health.mark_up(LOOP_NAME)
        else:
            self._health.mark_down(LOOP_NAME, reason)

    async def _get_updates(self, offset: int | None) -> list[Update | Unparseable | NotAnUpdate]:
        """One long poll, parsed update by update (a seam of its own so the benchmark can
        stamp receipt times). The raw batch comes from PTB's own request path - the
        same call ``Bot.get_updates`` makes, with its error handling - because
        ``get_updates`` parses the batch as a whole (see :mod:`.tg_updates`)."""
        tg = self._settings.telegram
        timeout: float = tg.poll_timeout_seconds
        read_timeout: float = tg.poll_timeout_seconds + tg.request_timeout_seconds
        epoch = 0
        ends: float | None = None
        if self._poll_lease is not None:
            lease = self._poll_lease()
            if lease is None or lease[1] < MIN_POLL_BUDGET_S:
                await asyncio.sleep(IDLE_POLL_WAIT_S)  # another replica polls
                return []
            epoch, budget = lease
            now = time.monotonic()
            if epoch != self._poll_epoch:  # just gained: let the last holder's poll end
                self._poll_epoch, self._poll_from = epoch, now + HANDOVER_S
            if now < self._poll_from:
                await asyncio.sleep(self._poll_from - now)
                return []
            # Telegram ends the long poll a second and the send slack before this
            # process's view of the lease does, and the process hangs up when that view
            # ends, however late the request left (a starved process, see HANDOVER_S).
            timeout = min(timeout, int(budget - 1.0 - SEND_SLACK_S))
            read_timeout = min(read_timeout, budget)
            ends = now + budget
            self._poll_request.tag = {POLL_TAG_HEADER: f"epoch={epoch}; caller={self._poll_tag}"}
        post = self.app.bot._post(  # PTB's own request path, left unparsed
            "getUpdates",
            {"timeout": timeout, "offset": offset, "allowed_updates": list(ALLOWED_UPDATES)},
            read_timeout=read_timeout)
        if ends is None:
            raw = await post
        else:
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout_at(loop.time() + ends - time.monotonic()) as cut:
                    self._poll_cut = cut
                    raw = await post
            except TimeoutError:
                if not cut.expired():
                    raise
                log.info("poll_cut", reason="role_lost" if self._poll_aborted else "lease_ends")
                return []
            finally:
                self._poll_cut, self._poll_aborted = None, False
        if self._poll_lease is not None:
            lease = self._poll_lease()
            if lease is None or lease[0] != epoch:  # lost while polling: not ours to handle
                log.warning("poll_discarded", reason="lease_lost")
                return []
        return parse_batch(raw, self.app.bot)

    def abort_poll(self) -> None:
        """End the long poll in flight now (the poller's role was given up): the
        connection is closed, and Telegram ends a poll whose client went away."""
        cut = self._poll_cut
        if cut is not None and not cut.expired():
            self._poll_aborted = True
            cut.reschedule(asyncio.get_running_loop().time())

    def webhook_app(self) -> Starlette:
        """Webhook receiver: the secret header is checked first, the update is handled,
        and only then does Telegram get 200 - so a crash before commit means redelivery.

        The body arrives capped (:class:`~.http_edge.BodyCapped`). A body that is not
        one update object gets 400 and a log line with the reason only; an update PTB
        cannot parse gets 200 - Telegram would otherwise redeliver it for ever, ahead of
        every later update - and is audited by its id.
        """
        path = "/" + self._settings.telegram.webhook_path.lstrip("/")
        secret = self._webhook_secret.encode()

        async def receive(request: Request) -> Response:
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
            if not secret or not hmac.compare_digest(given, secret):
                log.warning("telegram_webhook_refused", reason="secret")
                if self._on_refused is not None:
                    await self._on_refused("telegram", "secret")
                return Response(status_code=403)
            try:
                update = parse_webhook_body(await request.body(), self.app.bot)
            except NotAnUpdate:
                log.warning("telegram_webhook_refused", reason="malformed")
                return Response(status_code=400)
            if isinstance(update, Unparseable):
                log.warning("update_skipped", reason="unparseable")
                await self._on_unparseable(update.update_id)
                return Response(status_code=200)
            await self.handle_update(update)
            return Response(status_code=200)

        return Starlette(routes=[Route(path, receive, methods=["POST"])])

    # -- inbound ----------------------------------------------------------------------
    async def handle_update(self, update: Update) -> None:
        member = update.my_chat_member
        if member is not None:
            if member.chat.type == "private":
                status = member.new_chat_member.status
                # "kicked": the user blocked the bot; "member": unblocked (or restarted).
                if status in ("kicked", "member"):
                    self._intake.reachable(Platform.TELEGRAM, str(member.chat.id),
                                           status == "member")
                    log.info("chat_member_changed", status=status)
            return
        if update.edited_message is not None:
            await self._handle_edit(update.update_id, update.edited_message)
            return
        msg = update.message
        if msg is None or msg.chat.type != "private":
            return  # groups and channels are out of scope: one chat per person
        if addressed_elsewhere(msg.text, self.app.bot.username):
            log.info("update_skipped", reason="command_for_another_bot")
            return
        chat_id = msg.chat.id
        dedupe = f"{update.update_id}:{int(msg.date.timestamp())}"
        document: Document | None = None
        limit = min(self._settings.relay.max_file_bytes,
                    self._settings.telegram.max_download_bytes)
        if msg.document is not None:
            size = msg.document.file_size or 0
            if size > limit:
                document = Document(b"", msg.document.file_name or "file", declared_size=size)
            else:
                try:
                    file = await self.app.bot.get_file(msg.document.file_id)
                    data = bytes(await file.download_as_bytearray())
                except BadRequest:  # "file is too big" for the Bot API's getFile
                    document = Document(b"", msg.document.file_name or "file",
                                        declared_size=limit + 1)
                else:
                    document = Document(data, msg.document.file_name or "file")
        outcome = self._intake.accept(
            platform=Platform.TELEGRAM, address=str(chat_id), dedupe_key=dedupe,
            # A caption is read like text (tokens in it are relayed, words guarded).
            text=command_text(msg.text) if msg.text is not None else msg.caption,
            document=document, media=telegram_media(msg),
            platform_message_id=str(msg.message_id),
            language_code=msg.from_user.language_code if msg.from_user else None,
        )
        await self._after(outcome, chat_id, msg.message_id)

    async def _handle_edit(self, update_id: int, msg: Message) -> None:
        """An edited message goes to the guard as an edit, with nothing to relay: the
        original was handled when it was sent (guard rule 8)."""
        if msg.chat.type != "private":
            return
        chat_id = msg.chat.id
        edited = msg.edit_date or msg.date  # each edit is an update of its own
        dedupe = f"{update_id}:{int(edited.timestamp())}"
        outcome = self._intake.accept(
            platform=Platform.TELEGRAM, address=str(chat_id), dedupe_key=dedupe,
            text=None, document=None, media=Media.EDIT,
            platform_message_id=str(msg.message_id),
        )
        await self._after(outcome, chat_id, msg.message_id)

    async def _after(self, outcome: Outcome, chat_id: int, message_id: int) -> None:
        if outcome.duplicate:
            return
        if outcome.delete_message:
            try:
                await self.app.bot.delete_message(chat_id=chat_id, message_id=message_id)
            except TelegramError as exc:  # best effort: too old, no rights, already gone
                log.info("delete_failed", reason=type(exc).__name__)
        limit = self._settings.telegram.max_message_chars
        pieces = [piece for text in outcome.direct_replies
                  for piece in split_reply(text, limit, utf16_units)]
        if self._replies is not None:
            self._replies.put(str(chat_id), pieces)
        else:
            for piece in pieces:
                await self._pacer.wait()
                await self._send_reply(str(chat_id), piece)
        self._on_accepted()

    async def _send_reply(self, chat_id: str, text: str) -> None:
        try:
            await self.app.bot.send_message(chat_id=int(chat_id), text=text)
        except TelegramError as exc:
            log.info("direct_reply_failed", reason=type(exc).__name__)

    # -- outbound (outbox Sender) -------------------------------------------------------
    async def send(self, delivery: Delivery) -> str:
        chat_id = int(delivery.address)
        bot = self.app.bot
        await self._send_pacer.wait()
        if delivery.kind == OutKind.WITHDRAW.value:
            return await self._withdraw(chat_id, delivery.body)
        try:
            if delivery.document is not None:
                message = await bot.send_document(
                    chat_id=chat_id, document=delivery.document,
                    filename=delivery.filename or "message.mcf")
            else:
                message = await bot.send_message(chat_id=chat_id, text=delivery.body)
        except TgRetryAfter as exc:
            raise RetryAfter("tg-429", retry_after_seconds(exc)) from None
        except Forbidden as exc:
            # "bot can't initiate conversation with a user" (never /start-ed) and "bot
            # was blocked by the user": reachable again once they write to the bot.
            if _UNREACHABLE.search(exc.message):
                raise Unreachable("tg-403") from None
            raise Permanent("tg-Forbidden") from None
        except (ChatMigrated, InvalidToken) as exc:
            raise Permanent(f"tg-{type(exc).__name__}") from None
        except BadRequest:
            raise Permanent("tg-400") from None
        except (TimedOut, NetworkError) as exc:
            raise Transient(f"tg-{type(exc).__name__}") from None
        except TelegramError as exc:
            raise Transient(f"tg-{type(exc).__name__}") from None
        return str(message.message_id)

    async def _withdraw(self, chat_id: int, message_id: str) -> str:
        """Delete a message the user sent (the guard decided after the fact).

        A message already gone, or too old for a bot to delete (48 hours), cannot be
        removed by asking again: that is the end of it, not a failure to retry.
        """
        try:
            await self.app.bot.delete_message(chat_id=chat_id, message_id=int(message_id))
        except TgRetryAfter as exc:
            raise RetryAfter("tg-429", retry_after_seconds(exc)) from None
        except BadRequest as exc:
            log.info("withdraw_not_possible", reason=type(exc).__name__)
        except (TimedOut, NetworkError) as exc:
            raise Transient(f"tg-{type(exc).__name__}") from None
        except TelegramError as exc:
            raise Permanent(f"tg-{type(exc).__name__}") from None
        return message_id

    async def lookup(self, delivery: Delivery, since_epoch_s: float) -> str | bool | None:
        """The Bot API cannot list sent messages: an in-doubt row cannot be resolved."""
        return None
