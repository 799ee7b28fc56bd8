"""Telegram through python-telegram-bot v22: inbound updates in, outbox deliveries out.

Why no ``AIORateLimiter``: PTB's stock limiter pauses *every* request when any chat
gets a 429. Here a 429 surfaces as :class:`bot.outbox.errors.RetryAfter` and the outbox
delays only that chat's rows. Inbound: long polling by default; webhook mode hands PTB
the ``secret_token`` so requests without Telegram's ``X-Telegram-Bot-Api-Secret-Token``
header are refused (403) before any handler runs.

Idempotency: the key recorded for an inbound message is a blind index (server keyring
HMAC) of ``chat id : message id`` - unique per message, but no chat id in the database.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import timedelta

import structlog
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
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from bot.config import Settings
from bot.messages import Document, Platform
from bot.outbox.errors import Permanent, RetryAfter, Transient
from bot.outbox.sender import Delivery
from bot.relay.intake import Intake, Outcome
from crypto.keyring import Keyring

log = structlog.get_logger("bot.telegram")


def _seconds(exc: TgRetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns about the int/timedelta transition
        warnings.simplefilter("ignore")
        value: int | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramAdapter:
    def __init__(self, settings: Settings, token: str, intake: Intake, keyring: Keyring,
                 on_accepted: Callable[[], None], *, webhook_secret: str = "") -> None:
        self._settings = settings
        self._intake = intake
        self._keyring = keyring
        self._on_accepted = on_accepted
        self._webhook_secret = webhook_secret
        self.app: Application = self._build(token)  # type: ignore[type-arg]
        self.app.add_handler(MessageHandler(filters.ALL, self._on_update))

    def _build(self, token: str) -> Application:  # type: ignore[type-arg]
        tg = self._settings.telegram
        timeout = tg.request_timeout_seconds
        return (
            ApplicationBuilder()
            .token(token)
            .base_url(tg.api_base_url)
            .base_file_url(tg.api_file_url)
            .request(HTTPXRequest(connection_pool_size=tg.connection_pool_size,
                                  connect_timeout=timeout, read_timeout=timeout,
                                  write_timeout=timeout, pool_timeout=timeout))
            .get_updates_request(HTTPXRequest(connect_timeout=timeout,
                                              read_timeout=timeout + tg.poll_timeout_seconds))
            .build()
        )

    # -- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        tg = self._settings.telegram
        await self.app.initialize()
        updater = self.app.updater
        assert updater is not None
        if tg.mode == "webhook":
            await updater.start_webhook(
                listen=tg.listen_host, port=tg.listen_port, url_path=tg.webhook_path,
                webhook_url=tg.webhook_url, secret_token=self._webhook_secret,
                allowed_updates=["message"], drop_pending_updates=False,
            )
        else:
            await updater.start_polling(
                poll_interval=0.0, timeout=timedelta(seconds=tg.poll_timeout_seconds),
                allowed_updates=["message"], drop_pending_updates=False,
            )
        await self.app.start()

    async def stop(self) -> None:
        updater = self.app.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    # -- inbound ----------------------------------------------------------------------
    def _is_config_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self._settings.clinic.admin_telegram_ids

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = update.message
        if msg is None or msg.chat.type != "private":
            return  # groups and channels are out of scope: one chat per person
        chat_id = msg.chat.id
        dedupe = self._keyring.blind_index(
            "bot_inbound_keys", "dedupe_key", f"telegram:{chat_id}:{msg.message_id}").hex()
        document: Document | None = None
        limit = self._settings.relay.max_file_bytes
        if msg.document is not None:
            size = msg.document.file_size or 0
            if size > limit:
                document = Document(b"", msg.document.file_name or "file", declared_size=size)
            else:
                file = await context.bot.get_file(msg.document.file_id)
                data = bytes(await file.download_as_bytearray())
                document = Document(data, msg.document.file_name or "file")
        user_id = msg.from_user.id if msg.from_user else None
        outcome = self._intake.accept(
            platform=Platform.TELEGRAM, address=str(chat_id), dedupe_key=dedupe,
            text=msg.text if document is None else None, document=document,
            platform_message_id=str(msg.message_id),
            config_admin=self._is_config_admin(user_id),
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
            try:
                await self.app.bot.send_message(chat_id=chat_id, text=text)
            except TelegramError as exc:
                log.info("direct_reply_failed", reason=type(exc).__name__)
        self._on_accepted()

    # -- outbound (outbox Sender) -------------------------------------------------------
    async def send(self, delivery: Delivery) -> str:
        chat_id = int(delivery.address)
        bot = self.app.bot
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

    async def lookup(self, delivery: Delivery, since_epoch_s: float) -> str | None | bool:
        """The Bot API cannot list sent messages: an in-doubt row cannot be resolved."""
        return None
