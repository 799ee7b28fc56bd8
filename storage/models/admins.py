"""Clinic admins added in chat: *persons*, and the grants that give them identities.

A person is one human being; each grant binds one of their platform identities to them.
Break-glass needs a second admin person, so what counts is the person, never the
identity. A grant records who proposed it and which other admin person confirmed it -
as identity ids and as the audit log's pseudonyms of their persons, taken when the grant
was made - because break-glass refuses an approver whom the requester made an admin.

A grant is either to a known identity or - when configured before that person ever
wrote to the bot - to an address on a platform (sealed, with its own blind index); the
row is bound to the identity on first contact. Removal keeps the row (``removed_at``) so
the audit trail can say who granted and revoked what. Admins from the configuration are
persons too, but they live in the configuration, not here.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base
from medcrypt.storage.encrypted import ID_HEX_CHARS, EncryptedField, Sealed, SealedBytes, register

#: Longest audit pseudonym (``person:`` and 24 hex characters, with room to spare).
PERSON_REF_CHARS = 48


class AdminPerson(Base):
    """One admin made in chat. No name, no address: identities hang off it by grant."""

    __tablename__ = "admin_persons"

    id: Mapped[str] = mapped_column(String(ID_HEX_CHARS), primary_key=True)
    created_at: Mapped[datetime]


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
    #: Blind index of that address (under the shred epoch's index DEK, like the
    #: identities'), to match the identity when it first writes.
    address_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(50))
    #: The DEK (key tree, docs/adr/0037 Amendment 1) ``address`` is sealed under; NULL
    #: while it is still a v1 keyring value. Every seal and open reads that ``deks`` row
    #: in its transaction. (Deferred: code at an older schema revision still loads rows.)
    dek_id: Mapped[str | None] = mapped_column(ForeignKey("deks.id"), index=True,
                                               deferred=True)
    dek_version: Mapped[int | None] = mapped_column(Integer, index=True, deferred=True)
    #: The person this identity belongs to.
    person_id: Mapped[str] = mapped_column(
        ForeignKey("admin_persons.id", ondelete="CASCADE"), index=True
    )
    #: The admin who proposed the grant.
    added_by: Mapped[str | None] = mapped_column(
        ForeignKey("platform_identities.id", ondelete="SET NULL")
    )
    #: The admin - another person - who confirmed it (NULL for grants made before 0010).
    confirmed_by: Mapped[str | None] = mapped_column(
        ForeignKey("platform_identities.id", ondelete="SET NULL")
    )
    #: Audit pseudonyms of the proposer's and the confirmer's persons at grant time.
    added_by_person: Mapped[str | None] = mapped_column(String(PERSON_REF_CHARS))
    confirmed_by_person: Mapped[str | None] = mapped_column(String(PERSON_REF_CHARS))
    added_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]

    #: A phone number or chat id of someone the bot has not met: a DEK of the grant's
    #: own (the grant stands for that person), destroyed when the identity the grant is
    #: bound to is erased.
    ADDRESS: ClassVar[EncryptedField] = EncryptedField(
        "clinic_admins", "address", blind_index="address_bidx", tree_purpose="admin-grant",
    )


register(ClinicAdmin, ClinicAdmin.ADDRESS)


