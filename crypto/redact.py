"""Keep PHI and secrets out of logs, whatever a caller names its fields.

Two nets, both applied to every structlog event:

1. *By name*: a field whose name suggests content or a secret (``body``, ``text``,
   ``token``, ``key``, ``phone`` ...) is replaced wholesale, nested dicts included.
2. *By shape*: inside every remaining string (the event message included) anything that
   looks like a MEDCRYPT token, a phone number, a WhatsApp address, a long base64/hex run
   (keys, ciphertext) or an e-mail address is masked. This catches the field nobody
   thought to name, and exception text that quotes input.

The processor is pure (no clock, no I/O) so it lives here and both edges use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

REDACTED = "[redacted]"

#: Substrings of field names whose values are never logged.
_SENSITIVE_NAME_PARTS = (
    "body", "text", "plaintext", "content", "message_text", "caption",
    "token", "key", "secret", "passphrase", "password", "mnemonic", "share",
    "phone", "number", "msisdn", "from_", "to_", "chat", "user_id", "sender", "address", "email",
    "name", "label", "signature", "nonce", "ciphertext", "payload", "authorization",
)
#: Field names that match a part above but are known to be harmless metadata.
_SAFE_NAMES = frozenset({
    "event", "level", "logger", "timestamp", "kind", "key_version", "key_versions",
    "exc_info", "pairing_ref", "subject_ref", "actor_ref", "filename_len", "size",
    "size_bucket", "count", "seq", "epoch", "direction", "index", "status", "reason",
    "platform", "job", "duration_ms", "attempt", "table", "column", "rows", "version",
    "logger_name", "token_kind", "message_count", "part_count",
})

_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\[MEDCRYPT:v\d+:[^\]]*\]?"),          # tokens, v1 and v2, even truncated
    re.compile(r"medcrypt-pair:[A-Za-z0-9+/=_\-:.]+"),  # pairing offers (QR text)
    re.compile(r"whatsapp:\+?\d[\d\s\-]{5,}"),
    re.compile(r"(?<![\w/])\+\d[\d\s\-()]{6,}\d"),     # E.164-ish phone numbers
    re.compile(r"\b\d{9,}\b"),                          # long digit runs: chat ids, numbers
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),            # e-mail addresses
    re.compile(r"[A-Za-z0-9+/_\-]{32,}={0,2}"),         # base64 / hex material (keys, blobs)
)


#: Integers this large are identifiers (Telegram chat ids, numbers), not counts.
_ID_LIKE = 10**8


def _name_is_sensitive(name: str) -> bool:
    lowered = name.lower()
    if lowered in _SAFE_NAMES:
        return False
    return any(part in lowered for part in _SENSITIVE_NAME_PARTS)


def scrub_text(value: str) -> str:
    """Mask every token, number, address or key-shaped run inside free text."""
    for pattern in _PATTERNS:
        value = pattern.sub(REDACTED, value)
    return value


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, Mapping):
        return {str(k): (REDACTED if _name_is_sensitive(str(k)) else _scrub_value(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub_value(v) for v in value]
    if isinstance(value, BaseException):
        return scrub_text(f"{type(value).__name__}: {value}")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _ID_LIKE:
        return REDACTED  # chat ids and phone numbers arrive as ints too
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub_text(str(value))


def redact_event(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: return the event with PHI and secrets removed."""
    for name in list(event_dict):
        if name == "exc_info":
            continue
        if _name_is_sensitive(name):
            event_dict[name] = REDACTED
        else:
            event_dict[name] = _scrub_value(event_dict[name])
    return event_dict
