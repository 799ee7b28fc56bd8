"""Tables of the bot's relay: who is who, pairings, delivery, idempotency (bot-owned).

Why these live beside the storage team's models rather than in them: the relay's
delivery bookkeeping (outbox claim lease, per-chat head-of-line, WhatsApp window hold,
inbound idempotency keys, partly received PART tokens) is specific to how the bot
delivers, and evolves with it. Everything personal is sealed: ``address_sealed`` holds
the Telegram chat id or WhatsApp address under the server keyring (AAD = table, column,
row id) and ``address_index`` is its blind index for lookups; no other column carries a
phone number, chat id, plaintext or key. Token text stored here is ciphertext.

Deleting an identity cascades to everything addressed to it (``/delete_me``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base

_IDENTITY_FK = "bot_identities.id"


class BotIdentity(Base):
    """One platform account that talked to the bot, known by a random id."""

    __tablename__ = "bot_identities"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    address_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    address_index: Mapped[bytes] = mapped_column(LargeBinary(34), unique=True)
    created_at: Mapped[datetime]
    #: Last inbound message: WhatsApp's 24-hour customer-service window starts here.
    last_inbound_at: Mapped[datetime | None]
    #: When the "new secure message" template was last sent while the window was closed.
    template_sent_at: Mapped[datetime | None]


class BotAdmin(Base):
    """A clinic admin added in chat (admins from config are not stored)."""

    __tablename__ = "bot_admins"

    identity_id: Mapped[str] = mapped_column(
        ForeignKey(_IDENTITY_FK, ondelete="CASCADE"), primary_key=True
    )
    added_by: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[datetime]


class BotPairing(Base):
    """A physician and (once accepted) a patient, by identity id; PAIR_REGISTER creates it."""

    __tablename__ = "bot_pairings"

    pairing_id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    physician_id: Mapped[str] = mapped_column(ForeignKey(_IDENTITY_FK, ondelete="CASCADE"))
    patient_id: Mapped[str | None] = mapped_column(
        ForeignKey(_IDENTITY_FK, ondelete="CASCADE")
    )
    #: "pending" (registered), "active" (accepted), "ended" (/unpair).
    status: Mapped[str] = mapped_column(String(16))
    start_epoch: Mapped[int] = mapped_column(Integer)
    grace_days: Mapped[int] = mapped_column(Integer)
    #: Offer deadline from the PAIR_REGISTER body (Unix seconds, UTC).
    offer_expires_at: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    #: Consent record: when, over which platform, and which platform warning was shown.
    consent_at: Mapped[datetime | None]
    consent_channel: Mapped[str | None] = mapped_column(String(16))
    consent_notice_version: Mapped[str | None] = mapped_column(String(32))


class BotRelayedToken(Base):
    """Raw binary of every relayed token, per epoch, kept for break-glass until shredding."""

    __tablename__ = "bot_relayed_tokens"
    __table_args__ = (Index("ix_bot_relayed_tokens_epoch", "epoch"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pairing_id: Mapped[bytes] = mapped_column(LargeBinary(16))
    epoch: Mapped[int] = mapped_column(Integer)
    #: "message", "escrow", "file" (file: the 42-byte routing header only).
    kind: Mapped[str] = mapped_column(String(16))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class BotInboundKey(Base):
    """Platform ids of inbound messages already accepted: a redelivery is a no-op."""

    __tablename__ = "bot_inbound_keys"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    received_at: Mapped[datetime]


class BotPendingPart(Base):
    """A PART token received from a sender whose other parts have not all arrived."""

    __tablename__ = "bot_pending_parts"
    __table_args__ = (UniqueConstraint("sender_id", "group_id", "part_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sender_id: Mapped[str] = mapped_column(ForeignKey(_IDENTITY_FK, ondelete="CASCADE"))
    group_id: Mapped[bytes] = mapped_column(LargeBinary(16))
    part_index: Mapped[int] = mapped_column(Integer)
    part_count: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]


class BotMedia(Base):
    """An encrypted file waiting for delivery, served to Twilio at an expiring URL.

    Each send mints a fresh random 256-bit URL name; only its SHA-256 (``url_hash``) is
    stored, so the table cannot be turned back into working URLs and lookups leak
    nothing through timing. The bytes are ciphertext (MCF2 container).
    """

    __tablename__ = "bot_media"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    url_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    url_expires_at: Mapped[datetime | None]


class BotOutbox(Base):
    """One message to deliver. Rows are written in the inbound message's transaction.

    Life cycle: ``pending`` → ``sending`` (claimed, lease in ``claimed_until``) → ``sent``
    (platform accepted; ``platform_message_id`` recorded) → ``delivered``/``failed`` from
    status callbacks; ``held`` waits for the WhatsApp window to reopen; ``dead`` after
    the last attempt. Per recipient, rows go out strictly in id order (head of line).
    """

    __tablename__ = "bot_outbox"
    __table_args__ = (
        Index("ix_bot_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_bot_outbox_recipient_id_status", "recipient_id", "status"),
        Index("ix_bot_outbox_platform_message_id", "platform_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient_id: Mapped[str] = mapped_column(ForeignKey(_IDENTITY_FK, ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    #: Token text (ciphertext) or a PHI-free notice; empty for files.
    body: Mapped[str] = mapped_column(Text)
    media_id: Mapped[str | None] = mapped_column(
        ForeignKey("bot_media.id", ondelete="SET NULL")
    )
    filename: Mapped[str | None] = mapped_column(String(64))
    origin_id: Mapped[str | None] = mapped_column(String(32))
    pairing_id: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
