"""Telegram through python-telegram-bot v22: inbound updates in, outbox deliveries out.

Why no ``AIORateLimiter``: PTB's stock limiter pauses *every* request when any chat
gets a 429. Here a 429 surfaces as :class:`bot.outbox.errors.RetryAfter` and the outbox
delays only that chat's rows. Why no PTB ``Updater``: it confirms updates before they
are handled (see :meth:`TelegramAdapter._poll`), which loses messages on a crash. PTB's
``Bot`` still makes every API call. Webhook mode registers ``secret_token`` with
Telegram; requests without the matching ``X-Telegram-Bot-Api-Secret-Token`` get 403.

Idempotency: the key recorded for an inbound message is the update id with the
message's date (storage keeps its SHA-256): the same update posted again - redelivered,
or a captured webhook replayed - has both. Not a keyed hash, which would change when
the server keys rotate; no chat id. The date is there because Telegram numbers updates
from a random start again after a week without any, and keys are kept far longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import re
import warnings
from collections.abc import Callable
from datetime import timedelta

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update
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

from medcrypt.bot.adapters.pacing import Pacer
from medcrypt.bot.adapters.tg_request import AiohttpRequest
from medcrypt.bot.domain.config import Settings
from medcrypt.bot.domain.messages import Document, Platform
from medcrypt.bot.domain.sender import Delivery
from medcrypt.bot.outbox.errors import Permanent, RetryAfter, Transient
from medcrypt.bot.relay.intake import Intake, Outcome

log = structlog.get_logger("bot.telegram")

# Opt in to PTB 22's future behaviour (retry_after as a timedelta) so PTB does not warn
# on every 429; _seconds() accepts both forms.
os.environ.setdefault("PTB_TIMEDELTA", "1")

#: Times one update is retried after its handling failed before it is skipped.
MAX_UPDATE_ATTEMPTS = 5
#: Updates of one getUpdates batch handled between yields to the event loop (see _poll).
YIELD_EVERY = 16
#: A command addressed to a bot by name (``/help@clinic_bot``), as Telegram clients send it.
_ADDRESSED_COMMAND = re.compile(r"^(\s*/[^\s@]*)@\S*")


def command_text(text: str | None) -> str | None:
    """``/help@clinic_bot args`` -> ``/help args``: the relay reads commands by name only."""
    return None if text is None else _ADDRESSED_COMMAND.sub(r"\1", text, count=1)


def _seconds(exc: TgRetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns about the int/timedelta transition
        warnings.simplefilter("ignore")
        value: int | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramAdapter:
    def __init__(self, settings: Settings, token: str, intake: Intake,
                 on_accepted: Callable[[], None], *, webhook_secret: str = "") -> None:
        self._settings = settings
        self._intake = intake
        self._on_accepted = on_accepted
        self._webhook_secret = webhook_secret
        self.app: Application = self._build(token)  # type: ignore[type-arg]
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._pacer = Pacer(settings.telegram.global_messages_per_second)

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
            .get_updates_request(AiohttpRequest(1, connect_timeout=timeout,
                                                read_timeout=timeout + tg.poll_timeout_seconds,
                                                write_timeout=timeout, pool_timeout=timeout))
            .updater(None)
            .build()
        )

    # -- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        tg = self._settings.telegram
        await self.app.initialize()
        self._stopping = asyncio.Event()
        if tg.mode == "webhook":
            await self.app.bot.set_webhook(url=tg.webhook_url, secret_token=self._webhook_secret,
                                           allowed_updates=["message"])
            config = uvicorn.Config(self.webhook_app(), host=tg.listen_host,
                                    port=tg.listen_port, log_level="warning",
                                    access_log=False, lifespan="off")
            self._server = uvicorn.Server(config)
            self._task = asyncio.create_task(self._server.serve())
            while not self._server.started and not self._task.done():
                await asyncio.sleep(0.01)
        else:
            await self.app.bot.delete_webhook(drop_pending_updates=False)
            self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            if self._server is None:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.app.shutdown()

    async def _get_updates(self, offset: int | None) -> tuple[Update, ...]:
        """One long poll (a seam of its own so the benchmark can stamp receipt times)."""
        tg = self._settings.telegram
        updates: tuple[Update, ...] = await self.app.bot.get_updates(
            offset=offset, timeout=tg.poll_timeout_seconds,
            read_timeout=tg.poll_timeout_seconds + tg.request_timeout_seconds,
            allowed_updates=["message"])
        return updates

    async def _poll(self) -> None:
        """Long polling with at-least-once semantics.

        PTB's own Updater confirms a batch (by asking for the next offset) while the
        previous batch may still be unprocessed, so a crash there loses messages. Here
        the offset only moves past an update after its handling committed; after a crash
        Telegram redelivers it and the idempotency key turns the repeat into a no-op.

        A batch holds up to 100 updates and the intake is synchronous (~4 ms each), so
        the loop yields to the event loop every :data:`YIELD_EVERY` updates: the outbox
        worker (woken by ``on_accepted``) starts sending the first messages after at
        most that many intakes instead of after the whole batch. Not after every update:
        each yield lets the worker run a claim transaction, which costs ~1.6 ms plus
        ~0.3 ms per row (measured, bench/bench_relay.py), so claiming row by row under a
        backlog added ~1.5 ms of CPU per message and lowered throughput.
        """
        offset: int | None = None
        failures = 0
        attempts: dict[int, int] = {}
        while not self._stopping.is_set():
            try:
                updates = await self._get_updates(offset)
            except TgRetryAfter as exc:
                await asyncio.sleep(_seconds(exc))
                continue
            except TelegramError as exc:
                failures += 1
                log.info("poll_failed", reason=type(exc).__name__)
                await asyncio.sleep(min(30.0, 0.2 * 2 ** min(failures, 8)))
                continue
            failures = 0
            for handled, update in enumerate(updates, start=1):
                try:
                    await self.handle_update(update)
                except Exception as exc:  # not confirmed: Telegram will deliver it again
                    attempts[update.update_id] = attempts.get(update.update_id, 0) + 1
                    log.error("update_failed", reason=type(exc).__name__,
                              attempt=attempts[update.update_id])
                    if attempts[update.update_id] < MAX_UPDATE_ATTEMPTS:
                        await asyncio.sleep(1.0)
                        break
                    # A poison update must not block every later message forever.
                    log.error("update_skipped", reason=type(exc).__name__)
                attempts.pop(update.update_id, None)
                offset = update.update_id + 1
                if handled % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let the worker send what was accepted

    def webhook_app(self) -> Starlette:
        """Webhook receiver: the secret header is checked first, the update is handled,
        and only then does Telegram get 200 - so a crash before commit means redelivery."""
        path = "/" + self._settings.telegram.webhook_path.lstrip("/")
        secret = self._webhook_secret.encode()

        async def receive(request: Request) -> Response:
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
            if not secret or not hmac.compare_digest(given, secret):
                log.warning("telegram_webhook_refused", reason="secret")
                return Response(status_code=403)
            try:
                data = await request.json()
                update = Update.de_json(data, self.app.bot)
            except (ValueError, TypeError, KeyError):
                return Response(status_code=400)
            if update is None:
                return Response(status_code=400)
            await self.handle_update(update)
            return Response(status_code=200)

        return Starlette(routes=[Route(path, receive, methods=["POST"])])

    # -- inbound ----------------------------------------------------------------------
    async def handle_update(self, update: Update) -> None:
        msg = update.message
        if msg is None or msg.chat.type != "private":
            return  # groups and channels are out of scope: one chat per person
        chat_id = msg.chat.id
        dedupe = f"{update.update_id}:{int(msg.date.timestamp())}"
        document: Document | None = None
        limit = self._settings.relay.max_file_bytes
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
            text=command_text(msg.text) if document is None else None, document=document,
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
        for text in outcome.direct_replies:
            await self._pacer.wait()
            try:
                await self.app.bot.send_message(chat_id=chat_id, text=text)
            except TelegramError as exc:
                log.info("direct_reply_failed", reason=type(exc).__name__)
        self._on_accepted()

    # -- outbound (outbox Sender) -------------------------------------------------------
    async def send(self, delivery: Delivery) -> str:
        chat_id = int(delivery.address)
        bot = self.app.bot
        await self._pacer.wait()
        try:
            if delivery.document is not None:
                message = await bot.send_document(
                    chat_id=chat_id, document=delivery.document,
                    filename=delivery.filename or "message.mcf")
            else:
                message = await bot.send_message(chat_id=chat_id, text=delivery.body)
        except TgRetryAfter as exc:
            raise RetryAfter("tg-429", _seconds(exc)) from None
        except (Forbidden, ChatMigrated, InvalidToken) as exc:
            raise Permanent(f"tg-{type(exc).__name__}") from None
        except BadRequest:
            raise Permanent("tg-400") from None
        except (TimedOut, NetworkError) as exc:
            raise Transient(f"tg-{type(exc).__name__}") from None
        except TelegramError as exc:
            raise Transient(f"tg-{type(exc).__name__}") from None
        return str(message.message_id)

    async def lookup(self, delivery: Delivery, since_epoch_s: float) -> str | bool | None:
        """The Bot API cannot list sent messages: an in-doubt row cannot be resolved."""
        return None
