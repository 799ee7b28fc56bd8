"""The test-facing half of the fake Telegram: simulated users and inspection.

Tests write as users (``user_sends_text``), read what the bot sent (``messages_to``),
wait for it, and steer failures (``inject_429``, ``block_user``). Every method is safe
to call from the test thread while the server runs in its own thread.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from medcrypt.sandbox._server import LoopbackServer
from medcrypt.sandbox.faults import Injected429s
from medcrypt.sandbox.tg_models import (
    MAX_CAPTION,
    MAX_TEXT,
    SentMessage,
    UserMessage,
    WebhookState,
    utf16_len,
)
from medcrypt.sandbox.tg_state import TelegramState


class TelegramDriver(LoopbackServer):
    """Driver API; :class:`sandbox.fake_telegram.FakeTelegram` provides the server."""

    state: TelegramState
    _injected: Injected429s

    # -- driver: simulated users --------------------------------------------------------
    def user_sends_text(self, user_id: int, text: str, *, first_name: str = "Sandbox User",
                        username: str | None = None) -> int:
        """A user writes to the bot in their private chat; returns the message_id.

        Telegram apps split longer input, so more than 4096 UTF-16 units is refused.
        """
        if not text or utf16_len(text) > MAX_TEXT:
            raise ValueError("a Telegram text message has 1 to 4096 characters")
        with self.state.lock:
            self.state.ensure_user(user_id, first_name, username)
            mid = self.state.user_message(user_id, text, None, None)
        self.signal.notify()
        return mid

    def user_sets_app_language(self, user_id: int, language_code: str | None) -> None:
        """The user's Telegram app language (an IETF tag such as ``es-419``; None: the
        app sends none); their later updates carry it as ``from.language_code``."""
        with self.state.lock:
            self.state.ensure_user(user_id, "Sandbox User", None)
            user = self.state.users[user_id]
            user.pop("language_code", None)
            if language_code:
                user["language_code"] = language_code

    def user_sends_document(self, user_id: int, filename: str, data: bytes, *,
                            mime_type: str | None = None, caption: str | None = None,
                            first_name: str = "Sandbox User",
                            username: str | None = None) -> int:
        """A user uploads a document to the bot; returns the message_id."""
        with self.state.lock:
            self.state.ensure_user(user_id, first_name, username)
            mid = self.state.user_document(user_id, filename, data, mime_type, caption)
        self.signal.notify()
        return mid

    def user_sends_photo(self, user_id: int, data: bytes = b"\xff\xd8\xff\xe0 photo", *,
                         caption: str | None = None, first_name: str = "Sandbox User",
                         username: str | None = None) -> int:
        """A user sends a photo (optionally captioned); returns the message_id."""
        if caption is not None and utf16_len(caption) > MAX_CAPTION:
            raise ValueError("a Telegram caption has at most 1024 characters")
        with self.state.lock:
            self.state.ensure_user(user_id, first_name, username)
            mid = self.state.user_photo(user_id, data, caption)
        self.signal.notify()
        return mid

    def user_sends_location(self, user_id: int, latitude: float, longitude: float, *,
                            first_name: str = "Sandbox User",
                            username: str | None = None) -> int:
        """A user shares a location (a map pin); returns the message_id."""
        with self.state.lock:
            self.state.ensure_user(user_id, first_name, username)
            mid = self.state.user_location(user_id, latitude, longitude)
        self.signal.notify()
        return mid

    def user_edits_text(self, user_id: int, message_id: int, text: str) -> int:
        """A user edits a text message they sent earlier; returns the update_id."""
        if not text or utf16_len(text) > MAX_TEXT:
            raise ValueError("a Telegram text message has 1 to 4096 characters")
        with self.state.lock:
            update_id = self.state.user_edit(user_id, message_id, text)
        self.signal.notify()
        return update_id

    def user_presses_button(self, user_id: int, message_id: int, data: str) -> str:
        """A callback_query for an inline button on one of the bot's messages."""
        with self.state.lock:
            query_id = self.state.user_callback(user_id, message_id, data)
        self.signal.notify()
        return query_id

    def inject_raw_update(self, payload: Any, *, kind: str = "message") -> int:
        """Queue an update whose ``kind`` object is ``payload`` exactly as given (no
        validation, any JSON value); returns its update_id. getUpdates and the webhook
        pusher deliver it in order like any other update."""
        with self.state.lock:
            update_id = self.state.raw_update(kind, payload)
        self.signal.notify()
        return update_id

    def block_user(self, user_id: int) -> None:
        """Later sends to this user fail with 403 "bot was blocked by the user"; the bot
        gets the ``my_chat_member`` update (member -> kicked) if it asked for those."""
        with self.state.lock:
            self.state.blocked.add(user_id)
            if user_id in self.state.users:
                self.state.member_status(user_id, "member", "kicked")
        self.signal.notify()

    def unblock_user(self, user_id: int) -> None:
        """The user unblocks the bot (kicked -> member); sends work again."""
        with self.state.lock:
            self.state.blocked.discard(user_id)
            self.state.member_status(user_id, "kicked", "member")
        self.signal.notify()

    def user_exists(self, user_id: int, *, first_name: str = "Sandbox User") -> None:
        """A Telegram user who never opened the chat with the bot (never sent /start):
        the Bot API answers 403 "bot can't initiate conversation with a user"."""
        with self.state.lock:
            self.state.ensure_user(user_id, first_name, None)

    async def post_to_webhook_async(self, update: dict[str, Any], *,
                                    secret_token: str | None = None,
                                    url: str | None = None) -> int:
        """POST an arbitrary update to the bot's webhook with a chosen secret header
        (None: no header) - for tests that the bot refuses what Telegram did not send."""
        target = url or self.state.webhook.url
        if not target:
            raise RuntimeError("no webhook is set")
        headers = {"Content-Type": "application/json"}
        if secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        async with aiohttp.ClientSession() as session, session.post(
                target, data=json.dumps(update), headers=headers) as resp:
            await resp.read()
            return resp.status

    # -- driver: inspection ---------------------------------------------------------------
    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """What the bot sent to this chat, oldest first (deleted ones flagged)."""
        with self.state.lock:
            return list(self.state.sent.get(chat_id, []))

    def all_sent(self) -> list[SentMessage]:
        with self.state.lock:
            return [m for msgs in self.state.sent.values() for m in msgs]

    def user_message(self, chat_id: int, message_id: int) -> UserMessage | None:
        """A message the simulated user sent (e.g. to check the bot deleted it)."""
        with self.state.lock:
            return self.state.user_messages.get((chat_id, message_id))

    def pending_updates(self) -> int:
        with self.state.lock:
            return len(self.state.updates)

    @property
    def webhook(self) -> WebhookState:
        return self.state.webhook

    def inject_429(self, chat_id: int, retry_after: int, times: int = 1) -> None:
        """The next ``times`` sends to ``chat_id`` answer 429 with this retry_after."""
        self._injected.add(str(chat_id), retry_after, times)

    def request_bytes(self) -> bytes:
        """Every path, query and body the bot sent, concatenated, for leak scanning."""
        with self._lock:
            return b"\n".join(r.path.encode() + b"?" + r.query.encode() + b"\n" + r.body
                              for r in self.requests)

    def wait_for_messages(self, chat_id: int, n: int, timeout: float = 5.0
                          ) -> list[SentMessage]:
        """Block until the bot sent at least ``n`` messages to the chat (threaded mode)."""
        if not self.signal.wait_sync(lambda: self._count(chat_id) >= n, timeout):
            raise TimeoutError(f"chat got {self._count(chat_id)} of {n} messages "
                               f"within {timeout}s")
        return self.messages_to(chat_id)

    async def wait_for_messages_async(self, chat_id: int, n: int, timeout: float = 5.0
                                      ) -> list[SentMessage]:
        """Like :meth:`wait_for_messages`, for a test running in any event loop."""
        deadline = time.monotonic() + timeout
        while self._count(chat_id) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"chat got {self._count(chat_id)} of {n} messages "
                                   f"within {timeout}s")
            await asyncio.sleep(0.005)
        return self.messages_to(chat_id)

    def _count(self, chat_id: int) -> int:
        with self.state.lock:
            return len(self.state.sent.get(chat_id, []))
