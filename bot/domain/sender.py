"""What the outbox worker needs from a platform adapter (structural interface)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Delivery:
    """One row's payload, as the adapter sees it (address decrypted just for this call)."""

    row_id: int
    address: str
    kind: str
    body: str
    document: bytes | None = None
    filename: str | None = None
    #: For WhatsApp files: the expiring URL Twilio fetches the encrypted file from.
    media_url: str | None = None

    def __repr__(self) -> str:  # the address and body never reach a log line or traceback
        return f"Delivery(row={self.row_id}, kind={self.kind})"


class Sender(Protocol):
    async def send(self, delivery: Delivery) -> str:
        """Send; return the platform message id. Raise :mod:`bot.outbox.errors` types."""

    async def lookup(self, delivery: Delivery, since_epoch_s: float) -> str | bool | None:
        """For a row whose sender died mid-send: the platform id if the platform has it,
        ``False`` if it certainly does not, ``None`` if the platform cannot tell."""
