"""Telegram updates parsed one at a time, so one bad update costs only itself.

PTB's ``Bot.get_updates`` parses a whole batch at once: one update it cannot parse (a
field missing after a Bot API change, a local Bot API server or proxy that differs)
raises for the batch, and PTB logs the raw batch - message text, names - at CRITICAL.
The polling loop therefore fetches the raw batch and parses each update here; the
webhook parses its body here too. An update *object* with an integer ``update_id``
that PTB cannot parse becomes :class:`Unparseable`: the caller confirms it (so the
platform stops delivering it), audits its id and moves on. Anything that is not an
update object at all raises :class:`NotAnUpdate` - real Telegram never sends one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from telegram import Bot, Update

from medcrypt.crypto.errors import BadToken


class NotAnUpdate(BadToken):
    """Platform input that is not a Telegram update object (no usable ``update_id``)."""


@dataclass(frozen=True)
class Unparseable:
    """An update the bot cannot read; only its id is kept, never its content."""

    update_id: int


def update_id_of(raw: object) -> int:
    """The ``update_id`` of a raw update object, or :class:`NotAnUpdate`."""
    if not isinstance(raw, dict):
        raise NotAnUpdate("not an object")
    update_id = raw.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool) or update_id < 0:
        raise NotAnUpdate("no integer update_id")
    return update_id


def parse_update(raw: object, bot: Bot) -> Update | Unparseable:
    """One raw update (already JSON-decoded) into PTB's ``Update``, or why not."""
    update_id = update_id_of(raw)
    try:
        update = Update.de_json(raw, bot)  # type: ignore[arg-type]  # checked: a dict
    except Exception:  # PTB raises TypeError, KeyError, AttributeError, ValueError...
        return Unparseable(update_id)
    return Unparseable(update_id) if update is None else update


def parse_batch(raw: object, bot: Bot) -> list[Update | Unparseable | NotAnUpdate]:
    """A getUpdates result, item by item; a result that is not a list raises."""
    if not isinstance(raw, list):
        raise NotAnUpdate("getUpdates result is not a list")
    items: list[Update | Unparseable | NotAnUpdate] = []
    for entry in raw:
        try:
            items.append(parse_update(entry, bot))
        except NotAnUpdate as exc:
            items.append(exc)
    return items


def parse_webhook_body(body: bytes, bot: Bot) -> Update | Unparseable:
    """A webhook POST body; :class:`NotAnUpdate` when it is not one update object."""
    try:
        data: Any = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested too deep
        raise NotAnUpdate("not JSON") from None
    return parse_update(data, bot)
