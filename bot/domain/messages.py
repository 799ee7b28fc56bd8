"""The relay's internal vocabulary: what came in, what must go out.

Only the adapters (:mod:`bot.adapters`) know that Telegram and WhatsApp exist. They turn
a platform update into an :class:`InboundMessage` and turn an :class:`OutboundMessage`
into a platform call. Everything in between - relay, guard, commands, outbox - reasons
about pseudonymous identity ids, token text and opaque file bytes, so a third platform
is one more adapter and nothing else.

No field here ever holds a phone number or a chat id: ``sender_id`` / ``recipient_id``
are the random ids of rows in the identities table; the adapter maps them to platform
addresses (encrypted at rest) at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Platform(StrEnum):
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"


class OutKind(StrEnum):
    """What an outbox row carries; decides which platform call the adapter makes."""

    #: A token (or PART token) relayed from the other member of a pairing.
    TOKEN = "token"  # noqa: S105 - a row kind, not a credential
    #: An encrypted file (MCF3 or MCF2 container) relayed as a document / media URL.
    FILE = "file"
    #: A short PHI-free notice from the bot itself (help, refusals, delivery failures).
    NOTICE = "notice"
    #: The platform's PHI-free prompt to write back, sent once while messages to a
    #: recipient are held because their messaging window is closed (the adapter
    #: decides what it says: on WhatsApp, the approved template).
    TEMPLATE = "template"
    #: Remove a message the recipient sent from their own chat (``text`` is its platform
    #: message id): the plaintext guard's deletion when it is decided later than the
    #: message itself (pieces of a paste that never completed). Queued only for a
    #: recipient whose channel can delete (:attr:`Channel.deletes_messages`).
    WITHDRAW = "withdraw"


class Media(StrEnum):
    """What a platform message carried besides text and a document; never relayed.

    The adapter decides (it knows what a Telegram venue or a Twilio ``MessageType`` is);
    the plaintext guard (:mod:`bot.relay.guard`) only reads this.
    """

    #: A shared map position (a pin, a venue, a live location).
    LOCATION = "location"
    #: A photo, voice note, audio, video, sticker, contact card, poll, or content the
    #: adapter cannot name: nothing the companion encrypted.
    OTHER = "other"
    #: A message the user edited after sending it. The relay carried the message once,
    #: as sent; an edit can only put words in the chat that the companion never saw.
    EDIT = "edit"


@dataclass(frozen=True)
class Document:
    """An attachment as received: opaque bytes plus the name the sender gave it."""

    data: bytes
    filename: str = "message.mcf"
    #: Size the platform announced; lets an oversized upload be refused unread.
    declared_size: int = 0

    @property
    def size(self) -> int:
        return max(len(self.data), self.declared_size)

    def __repr__(self) -> str:  # never print the bytes, even into a traceback
        return f"Document(<{len(self.data)} bytes>)"


@dataclass(frozen=True)
class InboundMessage:
    """One accepted platform message, normalised.

    ``dedupe_key`` is the platform's own unique id (Telegram ``update_id``-derived, Twilio
    ``MessageSid``); its SHA-256 is recorded in the same transaction as the resulting
    outbox rows, so a redelivered update after a crash - or a captured webhook posted
    again, however late - produces nothing twice.
    """

    platform: Platform
    sender_id: str
    dedupe_key: str
    #: The text, or the caption of a document or media (the guard reads both alike).
    text: str | None = None
    document: Document | None = None
    #: Other content the message carried (photo, location...), if any.
    media: Media | None = None
    #: Platform message id, kept only so the Telegram adapter can delete blocked plaintext.
    platform_message_id: str | None = None
    #: The bot knew nothing of the sender before this message (a stranger: unless the
    #: handling keeps them, nothing of the message is stored).
    first_contact: bool = False

    def __repr__(self) -> str:
        has = "document" if self.document else (
            f"{self.media}" if self.media else ("text" if self.text else "empty"))
        return f"InboundMessage({self.platform}, {self.dedupe_key!s}, {has})"


@dataclass(frozen=True)
class OutboundMessage:
    """One message the bot must deliver; persisted as an outbox row before any send."""

    recipient_id: str
    kind: OutKind
    text: str = ""
    document: Document | None = None
    #: The identity that caused this message (told about permanent failures), if any.
    origin_id: str | None = None
    #: For TOKEN/FILE: the pairing it belongs to (32 hex characters), for bookkeeping.
    pairing_id: str | None = None
    #: Messages in one group are delivered in order (parts of one token).
    group: str = ""
    meta: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"OutboundMessage({self.kind}, to={self.recipient_id[:6]}…)"
