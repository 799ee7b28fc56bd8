"""Clinic admins: who may run admin commands in chat.

An admin is either a known identity or - when configured before that person ever
wrote to the bot - an address on a platform (sealed, with its own blind index); the
row is bound to the identity on first contact. Removal keeps the row (``removed_at``) so the
audit trail can say who granted and revoked what.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base
from medcrypt.storage.encrypted import ID_HEX_CHARS, EncryptedField, Sealed, SealedBytes, register


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
    #: Sealed normalized address when granted by address (kept so rewrap can re-index).
    address: Mapped[Sealed | None] = mapped_column(SealedBytes)
    #: Blind index of that address, to match the identity when it first writes.
    address_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(34))
    added_by: Mapped[str | None] = mapped_column(
        ForeignKey("platform_identities.id", ondelete="SET NULL")
    )
    added_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]

    ADDRESS: ClassVar[EncryptedField] = EncryptedField(
        "clinic_admins", "address", blind_index="address_bidx"
    )


register(ClinicAdmin, ClinicAdmin.ADDRESS)


