"""Clinic admins: who may run admin commands in chat.

An admin is either a known identity or - when configured before that person ever
wrote to the bot - just the blind index of their address on a platform; the row is
bound to the identity on first contact. Removal keeps the row (``removed_at``) so the
audit trail can say who granted and revoked what.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base
from storage.encrypted import ID_HEX_CHARS, EncryptedField


class ClinicAdmin(Base):
    __tablename__ = "clinic_admins"
    __table_args__ = (
        CheckConstraint("platform IN ('telegram', 'whatsapp')", name="platform"),
        CheckConstraint(
            "identity_id IS NOT NULL OR address_bidx IS NOT NULL", name="identity_or_index"
        ),
        Index(None, "platform", "address_bidx"),
    )

    id: Mapped[str] = mapped_column(String(ID_HEX_CHARS), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    identity_id: Mapped[str | None] = mapped_column(
        ForeignKey("platform_identities.id", ondelete="CASCADE"), index=True
    )
    #: Blind index of the admin's address (same key as platform_identities.address).
    address_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(34))
    added_by: Mapped[str | None] = mapped_column(
        ForeignKey("platform_identities.id", ondelete="SET NULL")
    )
    added_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]

    #: Admins share the identities' blind-index key so one lookup value serves both.
    ADDRESS_INDEX: ClassVar[EncryptedField] = EncryptedField(
        "platform_identities", "address", blind_index="address_bidx"
    )


