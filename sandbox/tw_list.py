"""The Messages list resource of the fake Twilio (``GET .../Messages.json``).

The bot's WhatsApp adapter asks it, after a crash, whether a send whose outcome was
never recorded reached Twilio (``messages.list_async(to=..., date_sent_after=...)``),
so a message is not sent twice. Shapes follow Twilio's API: ``To``/``From`` and
``DateSent>``/``DateSent<`` filters, newest first, ``PageSize``/``Page`` paging with
``next_page_uri`` (the real API adds a ``PageToken``; the client only follows the URI).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from medcrypt.sandbox.tw_models import API_VERSION, TwilioApiError, TwilioMessage

MAX_PAGE_SIZE = 1000


def _instant(text: str) -> datetime:
    """Twilio accepts a date or an ISO 8601 instant in the DateSent filters."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TwilioApiError(400, 20001, "Invalid DateSent filter") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _int(query: dict[str, str], name: str, default: int) -> int:
    try:
        return int(query.get(name, default))
    except ValueError:
        raise TwilioApiError(400, 20001, f"Invalid {name}") from None


def message_page(messages: list[TwilioMessage], query: dict[str, str], *,
                 account_sid: str) -> dict[str, Any]:
    """One page of ``messages`` filtered as the query asks, in Twilio's JSON shape."""
    to, sender = query.get("To"), query.get("From")
    after = _instant(query["DateSent>"]) if "DateSent>" in query else None
    before = _instant(query["DateSent<"]) if "DateSent<" in query else None
    size = max(1, min(_int(query, "PageSize", 50), MAX_PAGE_SIZE))
    page = max(0, _int(query, "Page", 0))

    def sent(m: TwilioMessage) -> datetime:
        return m.date_sent or m.date_created

    found = [m for m in messages
             if (to is None or m.to == to) and (sender is None or m.from_ == sender)
             and (after is None or sent(m) >= after) and (before is None or sent(m) < before)]
    found.sort(key=lambda m: m.date_created, reverse=True)
    chunk = found[page * size:(page + 1) * size]
    base = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"
    filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

    def uri(number: int) -> str:
        return base + "?" + urlencode({**filters, "PageSize": size, "Page": number})

    more = (page + 1) * size < len(found)
    return {
        "messages": [m.to_json() for m in chunk],
        "start": page * size, "end": page * size + max(len(chunk) - 1, 0),
        "page": page, "page_size": size, "uri": uri(page), "first_page_uri": uri(0),
        "next_page_uri": uri(page + 1) if more else None,
        "previous_page_uri": uri(page - 1) if page > 0 else None,
    }
