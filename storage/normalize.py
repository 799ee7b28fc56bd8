"""Canonical forms of platform addresses, applied before sealing and blind-indexing.

A blind index only finds a row if the lookup computes the HMAC over exactly the bytes
that were indexed, so ``"+49 151 2345-678"``, ``"whatsapp:+491512345678"`` and
``"00491512345678"`` must all become ``"+491512345678"``. Errors never echo the input:
it is a phone number or chat id.
"""

from __future__ import annotations

import re
from typing import Literal

from medcrypt.crypto.errors import MalformedToken

Platform = Literal["telegram", "whatsapp"]
PLATFORMS: tuple[Platform, ...] = ("telegram", "whatsapp")

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_SEPARATORS = re.compile(r"[\s\-().]")
_CHAT_ID = re.compile(r"-?[1-9]\d{0,19}")


def normalize_phone(value: str) -> str:
    """E.164 with a leading ``+``; accepts a ``whatsapp:`` prefix, ``00`` and separators."""
    text = value.strip()
    if text.lower().startswith("whatsapp:"):
        text = text[len("whatsapp:"):]
    text = _SEPARATORS.sub("", text)
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.isascii() or not _E164.fullmatch(text):
        raise MalformedToken("not an E.164 phone number")
    return text


def normalize_chat_id(value: str | int) -> str:
    """Telegram chat ids as canonical decimal (negative for groups)."""
    text = str(value).strip()
    if not text.isascii() or not _CHAT_ID.fullmatch(text):
        raise MalformedToken("not a Telegram chat id")
    return text


def normalize_address(platform: str, value: str | int) -> str:
    """Normalize ``value`` for ``platform``; unknown platforms are refused."""
    if platform == "telegram":
        return normalize_chat_id(value)
    if platform == "whatsapp":
        return normalize_phone(str(value))
    raise MalformedToken("unknown platform")
