"""The outbox: every outgoing platform message, persisted before it is sent.

A crash between "decided to send" and "platform accepted" loses nothing: the row is
there on restart. Rows are written in the same transaction as the inbound message that
caused them. Workers claim due rows (``claimed_by``/``claimed_until``; on PostgreSQL
with ``FOR UPDATE SKIP LOCKED``), so several replicas never send the same row twice,
and an expired claim is resolved by recovery (docs/DELIVERY.md).

Life cycle (``status``): ``pending`` → ``sending`` (claimed, lease in ``claimed_until``)
→ ``sent`` (the platform accepted it; ``platform_message_id`` recorded); ``held`` waits
for the recipient's WhatsApp window to reopen; ``failed`` after a permanent error or
the last attempt. ``delivery_status`` follows the platform's receipts (Twilio status
callbacks) and only moves forward. Per recipient, rows go out strictly in id order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base

#: ``text``: a token (or PART); ``document``: an encrypted file (bytes in media_blobs,
#: the file's 42-byte routing header in ``payload``); ``notice``: PHI-free bot text;
#: ``template``: the WhatsApp "new secure message" template (no payload); ``withdraw``:
#: remove a message the recipient sent from their chat (payload: its platform message id).
PAYLOAD_KINDS = ("text", "document", "template", "notice", "withdraw")
OUTBOX_STATUSES = ("pending", "sending", "held", "sent", "failed")
#: The rows that keep later rows to the same recipient waiting (templates never do).
BLOCKING_WHERE = text("status IN ('pending', 'sending', 'held') AND payload_kind != 'template'")
#: Templates waiting to be sent: claimed on a path of their own, outside the heads.
TEMPLATES_DUE_WHERE = text("status = 'pending' AND payload_kind = 'template'")


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(f"payload_kind IN {PAYLOAD_KINDS!r}", name="payload_kind"),
        CheckConstraint(f"status IN {OUTBOX_STATUSES!r}", name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "platform_message_id"),
        # Advancing a recipient's head: its lowest blocking row, one index probe however
        # long the backlog (finished rows leave this index).
        Index("ix_outbox_blocking_dest_id", "dest_identity_id", "id",
              postgresql_where=BLOCKING_WHERE, sqlite_where=BLOCKING_WHERE),
        Index("ix_outbox_templates_due", "next_attempt_at", "id",
              postgresql_where=TEMPLATES_DUE_WHERE, sqlite_where=TEMPLATES_DUE_WHERE),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dest_identity_id: Mapped[str] = mapped_column(
        ForeignKey("platform_identities.id", ondelete="CASCADE"), index=True
    )
    #: Who caused this message (told about a permanent failure); NULL for bot notices.
    origin_identity_id: Mapped[str | None] = mapped_column(
        ForeignKey("platform_identities.id", ondelete="SET NULL")
    )
    pairing_id: Mapped[str | None] = mapped_column(
        ForeignKey("pairings.pairing_id", ondelete="CASCADE"), index=True
    )
    payload_kind: Mapped[str] = mapped_column(String(16))
    #: Token text (ASCII), PHI-free notice text (UTF-8), or a file's routing header.
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    #: The encrypted file of a ``document`` row (its bytes live in media_blobs).
    media_id: Mapped[str | None] = mapped_column(
        ForeignKey("media_blobs.id", ondelete="SET NULL")
    )
    #: File name of the bot's own documents (``breakglass-<code>.mcbg``). Never set for
    #: relayed files: a sender's file name could say what the file is about.
    filename: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    platform_message_id: Mapped[str | None] = mapped_column(String(128))
    #: Last receipt from the platform: sent, delivered, read, undelivered, failed.
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    last_error_code: Mapped[str | None] = mapped_column(String(64))
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]


class OutboxHead(Base):
    """The row each recipient's queue is waiting on: what the claim reads, instead of
    grouping every unfinished row on every claim (which grew with the backlog).

    One row per recipient that has a blocking outbox row (``pending``, ``sending`` or
    ``held``, templates aside): ``head_id`` is the lowest such row, ``due_at`` its
    ``next_attempt_at`` while it is ``pending`` and NULL while it is being sent or held,
    so only claimable heads are in the (due_at, head_id) index range the claim scans.
    Kept by :mod:`storage.repos.outbox_heads` in the transaction that changes the rows;
    ``head_id`` has no foreign key so a cascade deleting the row leaves a stale head the
    claim or the repair sweep recomputes, rather than a recipient with no head at all.
    """

    __tablename__ = "outbox_heads"
    __table_args__ = (Index(None, "due_at", "head_id"),)

    dest_identity_id: Mapped[str] = mapped_column(
        ForeignKey("platform_identities.id", ondelete="CASCADE"), primary_key=True)
    head_id: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime | None]


class EarlyReceipt(Base):
    """A delivery receipt that arrived before its message's platform id was recorded.

    Twilio may call back before ``messages.create`` has returned to the bot, so the
    receipt can name a SID no outbox row carries yet. Kept here (not in memory) so a
    restart in between does not lose it; applied and deleted in the transaction that
    records the SID, and pruned after a day if no row ever claims it.
    """

    __tablename__ = "outbox_early_receipts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform_message_id: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(index=True)
