"""People as the platforms see them: a Telegram chat or a WhatsApp number.

The address (chat id / phone number) and the optional label are personal data, so
they are sealed (:mod:`storage.encrypted`) and found through a blind index that is
unique per platform. Deleting an identity keeps the row (``deleted_at``) so pairings and
the audit log keep their references, but clears the sealed values.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
    null,
)
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base
from medcrypt.storage.encrypted import ID_HEX_CHARS, EncryptedField, Sealed, SealedBytes, register

ROLES = ("unknown", "patient", "physician", "admin")


class PlatformIdentity(Base):
    __tablename__ = "platform_identities"
    __table_args__ = (
        UniqueConstraint("platform", "address_bidx"),
        CheckConstraint("platform IN ('telegram', 'whatsapp')", name="platform"),
        CheckConstraint(f"role IN {ROLES!r}", name="role"),
    )

    #: Never read the database defaults back after an INSERT (see ``language``).
    __mapper_args__ = {"eager_defaults": False}  # noqa: RUF012 - SQLAlchemy reads it once

    id: Mapped[str] = mapped_column(String(ID_HEX_CHARS), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    #: Sealed normalized address; NULL once the identity is erased.
    address: Mapped[Sealed | None] = mapped_column(SealedBytes)
    #: HMAC of the normalized address under the shred epoch's index DEK (``00 00`` +
    #: DEK id + MAC, 50 bytes; a keyring index, version + MAC, until converted); NULL
    #: once erased.
    address_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(50))
    label: Mapped[Sealed | None] = mapped_column(SealedBytes)
    #: The person's DEK (key tree, docs/adr/0037) that ``address`` and ``label`` are
    #: sealed under; NULL while both are still v1 keyring values. Every seal and open
    #: reads that ``deks`` row in its transaction.
    #: (Deferred, like ``language``: code at an older schema revision - the migrations'
    #: tests - still loads identities; the relay reads both through its Core statement.)
    dek_id: Mapped[str | None] = mapped_column(ForeignKey("deks.id"), index=True,
                                               deferred=True)
    dek_version: Mapped[int | None] = mapped_column(Integer, index=True, deferred=True)
    role: Mapped[str] = mapped_column(String(16), default="unknown")
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]
    #: Last inbound message: WhatsApp's 24-hour customer-service window starts here.
    last_inbound_at: Mapped[datetime | None]
    #: When the PHI-free "new secure message" template went out while the window was
    #: closed; cleared when the person writes again (their held messages are released).
    template_sent_at: Mapped[datetime | None]
    #: The language of the bot's replies (a catalog code such as "es_MX", never personal
    #: data); NULL: the clinic's ``default_language``. Stored because scheduled notices
    #: have no inbound update to read it from (docs/adr/0035).
    #: (Deferred and defaulted by the database, like ``language_chosen``: the ORM loads
    #: and inserts an identity without them, so code at an older schema revision - the
    #: migrations' tests - still works; the relay reads both through its Core statement.)
    language: Mapped[str | None] = mapped_column(String(16), deferred=True,
                                                 server_default=null())
    #: The person chose ``language`` with /language: their app's language no longer
    #: overrides it.
    language_chosen: Mapped[bool] = mapped_column(server_default=false(), deferred=True)

    ADDRESS: ClassVar[EncryptedField] = EncryptedField(
        "platform_identities", "address", blind_index="address_bidx",
        tree_purpose="identity",
    )
    LABEL: ClassVar[EncryptedField] = EncryptedField("platform_identities", "label",
                                                     tree_purpose="identity")

    def __repr__(self) -> str:  # never the address or label
        return f"PlatformIdentity(id={self.id!r}, platform={self.platform!r}, role={self.role!r})"


register(PlatformIdentity, PlatformIdentity.ADDRESS, PlatformIdentity.LABEL)
