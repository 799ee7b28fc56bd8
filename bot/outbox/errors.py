"""How a platform send failed, in the outbox's terms (adapters translate into these).

The worker decides what to do from the class alone: retry later (this chat only, or
with backoff), hold until the recipient writes (WhatsApp window), or give up and tell
the sender. All are :class:`crypto.errors.TransportError`; messages carry codes only.
"""

from __future__ import annotations

from medcrypt.crypto.errors import TransportError


class SendFailed(TransportError):
    def __init__(self, code: str) -> None:
        super().__init__(f"send failed ({code})")
        self.code = code


class RetryAfter(SendFailed):
    """The platform asked this chat to wait ``seconds`` (Telegram 429 ``retry_after``)."""

    def __init__(self, code: str, seconds: float) -> None:
        super().__init__(code)
        self.seconds = seconds


class Transient(SendFailed):
    """Network trouble, 5xx, or a 429 without per-chat scope: retry with backoff."""


class WindowClosed(SendFailed):
    """WhatsApp's 24-hour window is closed (Twilio 63016): template, then hold."""


class Permanent(SendFailed):
    """The recipient cannot be reached this way (blocked, unknown chat, invalid number)."""
