"""Telegram Bot API objects as the fake returns them, and what tests inspect.

Shapes follow the Bot API spec (``Update``: update_id; ``Message``: message_id, date,
chat; ``Chat``: id, type; ``User``: id, is_bot, first_name; ``Document``/``File``:
file_id, file_unique_id - see tests/sandbox/required_fields.py), with the optional
fields a real server fills for private chats, so python-telegram-bot's de_json sees
what it would see in production.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from medcrypt.crypto.errors import MalformedToken

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_UPLOAD = 50 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024


class SystemClock:
    """Wall clock, UTC; the default when a test does not inject one."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ApiError(Exception):
    """A Bot API error answer; ``description`` is Telegram's exact wording."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.code,
                               "description": self.description}
        if self.retry_after is not None:
            out["parameters"] = {"retry_after": self.retry_after}
        return out


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


def from_malformed(exc: MalformedToken) -> ApiError:
    return bad_request(str(exc))


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


def utf16_len(text: str) -> int:
    """Telegram measures text in UTF-16 code units (entity offsets use the same unit)."""
    return len(text.encode("utf-16-le")) // 2


def new_file_ids() -> tuple[str, str]:
    """Opaque ids shaped like Telegram's (long file_id, short file_unique_id)."""
    file_id = "BQACAgIAAxkBAA" + base64.urlsafe_b64encode(secrets.token_bytes(45)).decode()
    unique = "AgAD" + base64.urlsafe_b64encode(secrets.token_bytes(9)).decode()
    return file_id.rstrip("="), unique.rstrip("=")


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_name: str
    mime_type: str

    def document_json(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                "file_name": self.file_name, "mime_type": self.mime_type,
                "file_size": len(self.data)}

    def file_json(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                "file_size": len(self.data), "file_path": self.file_path}


@dataclass
class SentMessage:
    """A message the bot sent to a chat (text or document), as the recipient sees it."""

    chat_id: int
    message_id: int
    date: int
    method: str
    text: str | None = None
    document: bytes | None = None
    file_name: str | None = None
    mime_type: str | None = None
    file_id: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    reply_markup: Any = None
    deleted: bool = False
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class UserMessage:
    """A message a (simulated) user sent to the bot."""

    chat_id: int
    message_id: int
    update_id: int
    text: str | None = None
    file_id: str | None = None
    deleted: bool = False
    caption: str | None = None


@dataclass
class WebhookState:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    deliveries: list[tuple[int, int]] = field(default_factory=list)

    def info_json(self, pending: int) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.url, "has_custom_certificate": False,
                               "pending_update_count": pending}
        if self.url:
            out["max_connections"] = self.max_connections
            out["ip_address"] = "127.0.0.1"
            if self.allowed_updates is not None:
                out["allowed_updates"] = self.allowed_updates
        if self.last_error_date is not None:
            out["last_error_date"] = self.last_error_date
            out["last_error_message"] = self.last_error_message
        return out


def user_json(user_id: int, first_name: str, username: str | None,
              last_name: str | None = None, language_code: str | None = "en"
              ) -> dict[str, Any]:
    out: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if last_name:
        out["last_name"] = last_name
    if username:
        out["username"] = username
    if language_code:
        out["language_code"] = language_code
    return out


def private_chat_json(user: dict[str, Any]) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": user["id"], "type": "private",
                            "first_name": user["first_name"]}
    for key in ("last_name", "username"):
        if key in user:
            chat[key] = user[key]
    return chat


def command_entities(text: str) -> list[dict[str, Any]]:
    """A leading ``/command`` gets a bot_command entity, as Telegram adds (PTB needs it)."""
    if not text.startswith("/"):
        return []
    end = len(text)
    for i, ch in enumerate(text):
        if ch.isspace():
            end = i
            break
    if end <= 1:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(text[:end])}]
