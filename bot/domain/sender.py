"""What the outbox worker needs from a platform adapter (structural interface).

The worker claims rows, turns each into a :class:`Delivery` and hands it to the
:class:`Sender` of the recipient's platform; it never asks which platform that is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from medcrypt.bot.domain.messages import Platform


@dataclass(frozen=True)
class Delivery:
    """One row's payload, as the adapter sees it (address decrypted just for this call)."""

    row_id: int
    #: Picks the sender; senders themselves ignore it.
    platform: Platform
    #: The normalized address (:mod:`storage.normalize`); the sender dresses it.
    address: str
    kind: str
    body: str
    document: bytes | None = None
    filename: str | None = None
    #: For a platform that fetches files from a link (:class:`FileLinks`): the expiring
    #: URL of the encrypted file, instead of its bytes.
    media_url: str | None = None

    def __repr__(self) -> str:  # the address and body never reach a log line or traceback
        return f"Delivery(row={self.row_id}, kind={self.kind})"


@dataclass(frozen=True)
class FileLinks:
    """How a platform that fetches attachments from a URL wants them published.

    The worker mints a random link name for the file's row, stores only its hash with
    an expiry of ``ttl``, and passes ``url(name)`` in :attr:`Delivery.media_url`.
    """

    ttl: timedelta
    url: Callable[[str], str]


class Sender(Protocol):
    async def send(self, delivery: Delivery) -> str:
        """Send; return the platform message id. Raise :mod:`bot.outbox.errors` types."""

    async def lookup(self, delivery: Delivery, since_epoch_s: float) -> str | bool | None:
        """For a row whose sender died mid-send: the platform id if the platform has it,
        ``False`` if it certainly does not, ``None`` if the platform cannot tell."""
