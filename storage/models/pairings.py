"""Pairings: one physician and one patient who exchange tokens.

The ``pairing_id`` is the 16-byte id carried in every token header (hex here). The
patient is NULL until the offer is accepted. Consent fields record when, through which
channel and under which notice version the patient agreed - required evidence for a
clinic, and no health content.

``shredded_at`` marks a pairing ``/shred`` ended for good (lost or compromised device):
its status is ``unpaired`` like any other ended pairing, and the relay refuses every
later token of it, of any month, with the shred's reason. A column rather than a status
value, because SQLite can only change the status CHECK by rebuilding this table, which
the foreign keys referencing it turn into a cascading delete (docs/adr/0011).

``tag`` is the pairing's short name, derived from its id (docs/adr/0031).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base

PAIRING_STATUSES = ("pending", "active", "unpaired", "erased")


class Pairing(Base):
    __tablename__ = "pairings"
    __table_args__ = (
        CheckConstraint(f"status IN {PAIRING_STATUSES!r}", name="status"),
        CheckConstraint("start_epoch >= 0", name="start_epoch"),
        CheckConstraint("grace_days >= 1", name="grace_days"),
    )

    pairing_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    physician_id: Mapped[str] = mapped_column(
        ForeignKey("platform_identities.id"), index=True
    )
    patient_id: Mapped[str | None] = mapped_column(
        ForeignKey("platform_identities.id"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: Absolute month number, (year - 1970) * 12 + month - 1 (crypto.epochs).
    start_epoch: Mapped[int] = mapped_column(Integer)
    grace_days: Mapped[int] = mapped_column(Integer)
    offer_expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    consent_at: Mapped[datetime | None]
    consent_channel: Mapped[str | None] = mapped_column(String(16))
    consent_notice_version: Mapped[str | None] = mapped_column(String(32))
    #: When ``/shred`` ended this pairing for good; NULL for every other pairing.
    shredded_at: Mapped[datetime | None]
    #: The pairing's short name ("K7Q-2MX", ``crypto.keyless.tags.tag_of`` of the id),
    #: unique: a registration whose tag is taken is refused (docs/adr/0031). NULL only
    #: for a pre-tag pairing whose tag an older one already held (migration 0018).
    tag: Mapped[str | None] = mapped_column(String(7), unique=True, index=True)
