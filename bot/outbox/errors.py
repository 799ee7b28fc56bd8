"""How a platform send failed, in the outbox's terms (adapters translate into these).

The worker decides what to do from the class alone: retry later (this chat only, or
with backoff), hold until the recipient writes (messaging window closed), or give up and
tell the sender. All are :class:`crypto.errors.TransportError`; messages carry codes only.
"""

from __future__ import annotations

from medcrypt.crypto.errors import TransportError


class SendFailed(TransportError):
    def __init__(self, code: str) -> None:
        super().__init__(f"send failed ({code})")
        self.code = code


class RetryAfter(SendFailed):
    """The platform asked this chat to wait ``seconds`` (a per-chat flood limit)."""

    def __init__(self, code: str, seconds: float) -> None:
        super().__init__(code)
        self.seconds = seconds


class Transient(SendFailed):
    """Network trouble, 5xx, or a 429 without per-chat scope: retry with backoff."""


class RateLimited(Transient):
    """A 429 without a per-chat wait (Twilio's account limit): retried with backoff
    like any transient failure, and counted apart (``outbox_sends_total``)."""


class WindowClosed(SendFailed):
    """The platform takes free-form messages to this recipient only after they write
    (their messaging window is closed): send the template once, hold the message."""


class Permanent(SendFailed):
    """The recipient cannot be reached this way (blocked, unknown chat, invalid number)."""


class Unreachable(Permanent):
    """The recipient has not opened the chat with the bot, or has blocked it: nothing
    can reach them until they write to it again. The bot's own notices to them (witness
    lines) are held until then; a relayed message fails like any permanent failure, so
    its sender is told."""


class ClaimLapsed(Exception):
    """This worker's claim on a row may have expired before its send could end: the
    send is not started (another replica may own the row by now). Not a platform
    error - nothing was sent - so it is not a :class:`SendFailed`."""
