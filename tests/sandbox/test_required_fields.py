"""Every payload the fakes produce carries the fields the platform specs require."""

from __future__ import annotations

from typing import Any

import httpx

from medcrypt.sandbox import FakeTelegram
from tests.support.required_fields import TELEGRAM_REQUIRED

#: Where nested Telegram objects sit: field name -> type name.
NESTED = {"message": "Message", "chat": "Chat", "from": "User", "document": "Document",
          "entities": "MessageEntity", "callback_query": "CallbackQuery",
          "photo": "PhotoSize", "location": "Location"}


def check(obj: Any, type_name: str, seen: set[str]) -> None:
    missing = TELEGRAM_REQUIRED[type_name] - set(obj)
    assert not missing, f"{type_name} lacks {sorted(missing)}: {obj}"
    seen.add(type_name)
    for key, value in obj.items():
        nested = NESTED.get(key)
        if nested is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            check(item, nested, seen)


async def test_telegram_payloads_have_required_fields(tg: FakeTelegram) -> None:
    seen: set[str] = set()
    api = f"{tg.base_url}{tg.token}"
    tg.user_sends_text(1, "/start")
    tg.user_sends_document(1, "a.pdf", b"%PDF", caption="c")
    tg.user_sends_photo(1, caption="c")
    tg.user_sends_location(1, 19.43, -99.13)
    async with httpx.AsyncClient() as http:
        check((await http.post(f"{api}/getMe")).json()["result"], "User", seen)
        sent = (await http.post(f"{api}/sendMessage", data={"chat_id": 1, "text": "x"})
                ).json()["result"]
        check(sent, "Message", seen)
        tg.user_presses_button(1, sent["message_id"], "d")
        for update in (await http.post(f"{api}/getUpdates")).json()["result"]:
            check(update, "Update", seen)
            for kind in ("message", "callback_query"):
                if kind in update:
                    check(update[kind], NESTED[kind], seen)
        doc = (await http.post(f"{api}/sendDocument", data={"chat_id": "1"},
                               files={"document": ("f.bin", b"\x00\x01")})).json()["result"]
        check(doc, "Message", seen)
        file = (await http.post(f"{api}/getFile", data={"file_id": doc["document"]["file_id"]})
                ).json()["result"]
        check(file, "File", seen)
        check((await http.post(f"{api}/getWebhookInfo")).json()["result"], "WebhookInfo", seen)
    assert seen == set(TELEGRAM_REQUIRED)
