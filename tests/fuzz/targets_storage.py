"""Fuzz target for platform address normalization (input from platforms and config)."""

from __future__ import annotations

from medcrypt.storage.normalize import normalize_address


def _normalize(data: bytes) -> object:
    text = data.decode("utf-8", "replace")
    platform = "telegram" if data[:1] in (b"", b"-") or data[:1].isdigit() else "whatsapp"
    return normalize_address(platform, text)


TARGETS = {
    "normalize_address": (
        _normalize,
        [b"whatsapp:+491512345678", b"-1001234567890", b"0049 151 2345-678", b"42"],
    ),
}
