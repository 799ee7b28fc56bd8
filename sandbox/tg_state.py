"""State and semantics of the fake Bot API, free of HTTP so it is easy to reason about.

Every method runs under one lock because the driver (test thread) and the server loop
(another thread, in the threaded mode) both touch it. Behaviour mirrors the real
server where the bot can observe it: per-chat message ids shared by both directions,
update ids increasing globally, offsets confirming updates, "chat not found" for ids
Telegram does not know, 403 "bot can't initiate conversation with a user" for users who
exist but never started the bot, 403 "bot was blocked by the user" after a block (with
the ``my_chat_member`` update Telegram sends for it), "message is too long" above 4096
UTF-16 code units.
"""

from __future__ import annotations

import mimetypes
import re
import threading
from collections.abc import Mapping
from typing import Any

from medcrypt.crypto.clock import Clock
from medcrypt.sandbox import params as p
from medcrypt.sandbox.tg_models import (
    MAX_CAPTION,
    MAX_DOWNLOAD,
    MAX_TEXT,
    MAX_UPLOAD,
    ApiError,
    SentMessage,
    StoredFile,
    UserMessage,
    WebhookState,
    bad_request,
    command_entities,
    new_file_ids,
    private_chat_json,
    user_json,
    utf16_len,
)

_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
UPDATE_TYPES = frozenset({
    "message", "edited_message", "channel_post", "edited_channel_post", "callback_query",
    "inline_query", "chosen_inline_result", "my_chat_member", "chat_member",
    "message_reaction", "poll", "poll_answer", "chat_join_request"})
#: Update types delivered when allowed_updates is empty (Telegram's default set).
_DEFAULT_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class TelegramState:
    """Everything the fake Bot API remembers."""

    def __init__(self, bot_id: int, bot_first_name: str, bot_username: str,
                 clock: Clock) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.bot_user: dict[str, Any] = {
            "id": bot_id, "is_bot": True, "first_name": bot_first_name,
            "username": bot_username, "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": False,
            "can_connect_to_business": False, "has_main_web_app": False}
        #: Messages carry only the basic User fields; getMe adds the capability flags.
        self.bot_from: dict[str, Any] = {k: self.bot_user[k] for k in
                                         ("id", "is_bot", "first_name", "username")}
        self.users: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        #: Users who opened the chat with the bot (sent it anything): only they can be
        #: written to. Telegram users the bot never heard from get 403.
        self.started: set[int] = set()
        self._next_mid: dict[int, int] = {}
        self.files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self.updates: list[tuple[int, str, dict[str, Any]]] = []
        self._next_update_id = 700_000_000
        self.sent: dict[int, list[SentMessage]] = {}
        self.user_messages: dict[tuple[int, int], UserMessage] = {}
        self.webhook = WebhookState()
        self.allowed_updates: list[str] | None = None
        self.poll_generation = 0
        self.commands: list[dict[str, Any]] = []

    # -- helpers ----------------------------------------------------------------------
    def now(self) -> int:
        return int(self.clock.now().timestamp())

    def _mid(self, chat_id: int) -> int:
        mid = self._next_mid.get(chat_id, 1)
        self._next_mid[chat_id] = mid + 1
        return mid

    def _chat(self, chat_id: int) -> dict[str, Any]:
        user = self.users.get(chat_id)
        if user is None:
            raise bad_request("chat not found")
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id not in self.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return private_chat_json(user)

    def _store_file(self, data: bytes, file_name: str, mime_type: str) -> StoredFile:
        file_id, unique = new_file_ids()
        ext = mimetypes.guess_extension(mime_type) or ""
        path = f"documents/file_{len(self.files)}{ext}"
        stored = StoredFile(file_id, unique, path, data, file_name, mime_type)
        self.files[file_id] = stored
        self._files_by_path[path] = stored
        return stored

    def _push_update(self, kind: str, payload: dict[str, Any]) -> int:
        self._next_update_id += 1
        self.updates.append((self._next_update_id, kind, payload))
        return self._next_update_id

    # -- driver side ------------------------------------------------------------------
    def ensure_user(self, user_id: int, first_name: str, username: str | None) -> None:
        if user_id <= 0:
            raise ValueError("private chat ids are positive user ids")
        if user_id not in self.users:
            self.users[user_id] = user_json(user_id, first_name, username)

    def user_message(self, user_id: int, text: str | None,
                     document: StoredFile | None, caption: str | None,
                     content: dict[str, Any] | None = None) -> int:
        """A message from the user; ``content`` adds other Message fields (``photo``,
        ``location``...) as the Bot API names them."""
        user = self.users[user_id]
        self.started.add(user_id)
        mid = self._mid(user_id)
        msg: dict[str, Any] = {"message_id": mid, "from": user,
                               "chat": private_chat_json(user), "date": self.now()}
        if text is not None:
            msg["text"] = text
            entities = command_entities(text)
            if entities:
                msg["entities"] = entities
        if document is not None:
            msg["document"] = document.document_json()
        msg.update(content or {})
        if caption and (document is not None or content):
            msg["caption"] = caption
        update_id = self._push_update("message", msg)
        self.user_messages[(user_id, mid)] = UserMessage(
            user_id, mid, update_id, text, document.file_id if document else None,
            caption=caption)
        return mid

    def user_photo(self, user_id: int, data: bytes, caption: str | None) -> int:
        """A photo as Telegram delivers it: the sizes it made, smallest first."""
        stored = self._store_file(data, "photo.jpg", "image/jpeg")
        sizes = [{"file_id": stored.file_id + suffix, "file_unique_id": stored.file_unique_id
                  + suffix, "width": side, "height": side, "file_size": len(data)}
                 for suffix, side in (("s", 90), ("", 1280))]
        return self.user_message(user_id, None, None, caption, {"photo": sizes})

    def user_location(self, user_id: int, latitude: float, longitude: float) -> int:
        return self.user_message(user_id, None, None, None,
                                 {"location": {"latitude": latitude, "longitude": longitude}})

    def user_document(self, user_id: int, file_name: str, data: bytes,
                      mime_type: str | None, caption: str | None) -> int:
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        return self.user_message(user_id, None, self._store_file(data, file_name, mime),
                                 caption)

    def user_edit(self, user_id: int, message_id: int, text: str) -> int:
        """The user edits the text of a message they sent: an ``edited_message`` update
        carrying the message as it now reads, with its ``edit_date``."""
        user = self.users[user_id]
        original = self.user_messages[(user_id, message_id)]
        msg: dict[str, Any] = {"message_id": message_id, "from": user,
                               "chat": private_chat_json(user), "date": self.now(),
                               "edit_date": self.now(), "text": text}
        original.text = text
        return self._push_update("edited_message", msg)

    def member_status(self, user_id: int, old: str, new: str) -> int:
        """The ``my_chat_member`` update Telegram sends when a user blocks the bot
        (member -> kicked) or unblocks it (kicked -> member)."""
        user = self.users[user_id]
        bot_user = {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}

        def member(status: str) -> dict[str, Any]:  # ChatMemberBanned needs until_date
            return {"status": status, "user": bot_user,
                    **({"until_date": 0} if status == "kicked" else {})}

        return self._push_update("my_chat_member", {
            "chat": private_chat_json(user), "from": user, "date": self.now(),
            "old_chat_member": member(old), "new_chat_member": member(new)})

    def raw_update(self, kind: str, payload: Any) -> int:
        """Queue an update whose ``kind`` object is ``payload`` verbatim, unchecked.

        Real Telegram only ever sends well-formed updates, but a Bot API change, a
        local Bot API server or a proxy in between can hand the bot something its
        client library cannot parse; this is how tests show what the bot does then.
        """
        return self._push_update(kind, payload)

    def user_callback(self, user_id: int, message_id: int, data: str) -> str:
        user = self.users[user_id]
        sent = [m for m in self.sent.get(user_id, []) if m.message_id == message_id]
        query_id = f"{user_id}{message_id}{self._next_update_id}"
        query: dict[str, Any] = {"id": query_id, "from": user,
                                 "chat_instance": str(-user_id), "data": data}
        if sent:
            query["message"] = sent[0].payload
        self._push_update("callback_query", query)
        return query_id

    # -- Bot API methods ----------------------------------------------------------------
    def get_me(self, params: Mapping[str, Any]) -> Any:
        return self.bot_user

    def take_updates(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """getUpdates without waiting: confirm by offset, filter, cap by limit."""
        if self.webhook.url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                                "active; use deleteWebhook to delete the webhook first")
        offset = p.get_int(params, "offset")
        limit = p.get_int(params, "limit") or 100
        limit = min(max(limit, 1), 100)
        allowed = p.get_list(params, "allowed_updates")
        if allowed is not None:
            self.allowed_updates = [str(a) for a in allowed]
        if offset is not None:
            if offset < 0:
                self.updates = self.updates[offset:]
            else:
                self.updates = [u for u in self.updates if u[0] >= offset]
        self.updates = [u for u in self.updates if self._allowed(u[1], self.allowed_updates)]
        return [{"update_id": uid, kind: payload} for uid, kind, payload in self.updates[:limit]]

    @staticmethod
    def _allowed(kind: str, allowed: list[str] | None) -> bool:
        if not allowed:
            return kind not in _DEFAULT_EXCLUDED
        return kind in allowed

    def send_message(self, params: Mapping[str, Any]) -> Any:
        chat_id = p.get_chat_id(params)
        text = p.get_str(params, "text")
        if not text:
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        chat = self._chat(chat_id)
        msg = self._bot_message(chat, "sendMessage", params)
        msg.text = text
        msg.payload["text"] = text
        return msg.payload

    def send_document(self, params: Mapping[str, Any]) -> Any:
        chat_id = p.get_chat_id(params)
        doc = params.get("document")
        if isinstance(doc, str) and doc.startswith("attach://"):
            doc = params.get(doc.removeprefix("attach://"))
        caption = p.get_str(params, "caption")
        if caption and utf16_len(caption) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        if isinstance(doc, p.Upload):
            if not doc.data:
                raise bad_request("file must be non-empty")
            if len(doc.data) > MAX_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            chat = self._chat(chat_id)
            mime = doc.content_type
            if mime in ("", "application/octet-stream", "text/plain"):
                mime = mimetypes.guess_type(doc.filename)[0] or mime or \
                    "application/octet-stream"
            stored = self._store_file(doc.data, doc.filename or "document", mime)
        elif isinstance(doc, str) and doc:
            found = self.files.get(doc)
            if found is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            chat = self._chat(chat_id)
            stored = found
        else:
            raise bad_request("there is no document in the request")
        msg = self._bot_message(chat, "sendDocument", params)
        msg.document, msg.file_name = stored.data, stored.file_name
        msg.mime_type, msg.file_id, msg.caption = stored.mime_type, stored.file_id, caption
        msg.payload["document"] = stored.document_json()
        if caption:
            msg.payload["caption"] = caption
        return msg.payload

    def _bot_message(self, chat: dict[str, Any], method: str,
                     params: Mapping[str, Any]) -> SentMessage:
        mid = self._mid(chat["id"])
        date = self.now()
        payload: dict[str, Any] = {"message_id": mid, "from": self.bot_from, "chat": chat,
                                   "date": date}
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = p._decode_json_value(markup)
        if markup:
            payload["reply_markup"] = markup
        msg = SentMessage(chat["id"], mid, date, method,
                          parse_mode=p.get_str(params, "parse_mode"),
                          reply_markup=markup, payload=payload)
        self.sent.setdefault(chat["id"], []).append(msg)
        return msg

    def get_file(self, params: Mapping[str, Any]) -> Any:
        file_id = p.get_str(params, "file_id")
        stored = self.files.get(file_id or "")
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return stored.file_json()

    def file_by_path(self, path: str) -> StoredFile | None:
        return self._files_by_path.get(path)

    def delete_message(self, params: Mapping[str, Any]) -> Any:
        chat_id = p.get_chat_id(params)
        mid = p.get_int(params, "message_id")
        if mid is None:
            raise bad_request("message identifier is not specified")
        self._chat(chat_id)
        incoming = self.user_messages.get((chat_id, mid))
        outgoing = [m for m in self.sent.get(chat_id, []) if m.message_id == mid]
        target: UserMessage | SentMessage | None = incoming or (outgoing[0] if outgoing
                                                                else None)
        if target is None or target.deleted:
            raise bad_request("message to delete not found")
        target.deleted = True
        return True

    def set_webhook(self, params: Mapping[str, Any], require_https: bool) -> Any:
        url = p.get_str(params, "url") or ""
        secret = p.get_str(params, "secret_token")
        if secret is not None and not _SECRET_RE.match(secret):
            raise bad_request("secret token contains unallowed characters")
        if url and require_https and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if url and not url.startswith(("http://127.0.0.1", "http://localhost",
                                       "https://127.0.0.1", "https://localhost")):
            raise bad_request("bad webhook: the sandbox only delivers to loopback URLs")
        allowed = p.get_list(params, "allowed_updates")
        if p.get_bool(params, "drop_pending_updates"):
            self.updates.clear()
        self.webhook.url = url
        self.webhook.secret_token = secret if url else None
        self.webhook.max_connections = p.get_int(params, "max_connections") or 40
        self.webhook.allowed_updates = [str(a) for a in allowed] if allowed is not None \
            else None
        self.webhook.last_error_date = self.webhook.last_error_message = None
        return True

    def delete_webhook(self, params: Mapping[str, Any]) -> Any:
        if p.get_bool(params, "drop_pending_updates"):
            self.updates.clear()
        self.webhook.url = ""
        self.webhook.secret_token = None
        return True

    def get_webhook_info(self, params: Mapping[str, Any]) -> Any:
        return self.webhook.info_json(len(self.updates))

    def next_webhook_update(self) -> tuple[int, dict[str, Any]] | None:
        """Oldest pending update the webhook should receive, dropping filtered ones."""
        self.updates = [u for u in self.updates
                        if self._allowed(u[1], self.webhook.allowed_updates)]
        if not self.webhook.url or not self.updates:
            return None
        uid, kind, payload = self.updates[0]
        return uid, {"update_id": uid, kind: payload}

    def confirm_webhook_update(self, update_id: int) -> None:
        self.updates = [u for u in self.updates if u[0] != update_id]

    def answer_callback_query(self, params: Mapping[str, Any]) -> Any:
        if not p.get_str(params, "callback_query_id"):
            raise bad_request("query is too old and response timeout expired or query ID "
                              "is invalid")
        return True

    def set_my_commands(self, params: Mapping[str, Any]) -> Any:
        commands = p.get_list(params, "commands")
        if commands is None:
            raise bad_request("parameter \"commands\" is required")
        self.commands = [c for c in commands if isinstance(c, dict)]
        return True

    def get_my_commands(self, params: Mapping[str, Any]) -> Any:
        return self.commands

    def delete_my_commands(self, params: Mapping[str, Any]) -> Any:
        self.commands = []
        return True

    def send_chat_action(self, params: Mapping[str, Any]) -> Any:
        self._chat(p.get_chat_id(params))
        return True

