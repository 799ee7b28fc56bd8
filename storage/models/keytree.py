"""The key tree's rows: epoch KEKs (wrapped by the provider) and DEKs (wrapped locally).

Why in the database (docs/adr/0037-key-tree.md): every replica must agree on which KEK
and DEK a value uses, and a DEK destroyed on one replica must stop every other replica
at its next seal or open - the row is the one place all of them read in the transaction
that uses the key. A destroyed DEK keeps its row (``wrapped`` NULL, ``destroyed_at``
set) so the sealed rows that still reference it fail as destroyed, not as unknown.
No personal data: ids, purposes, versions and wrapped bytes only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base


class Kek(Base):
    """One epoch KEK: its provider-wrapped bytes and the root version that wrapped it."""

    __tablename__ = "keks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: ``env``, ``pkcs11``, ``transit`` or ``kms``: the provider that wrapped it.
    provider: Mapped[str] = mapped_column(String(16))
    #: The provider's root version (from the wrapped header; no provider call).
    root_version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary(8192))
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class Dek(Base):
    """One data key (one version of a purpose's or a person's key)."""

    __tablename__ = "deks"
    __table_args__ = (Index("ix_deks_person_id", "person_id"),)

    #: Random 128-bit id, hex: named in every value sealed under this key.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: Generation of the key for its purpose/person: 1, then +1 per rotation.
    version: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(32))
    #: The person (platform identity id) for per-person keys; NULL for a purpose key.
    person_id: Mapped[str | None] = mapped_column(String(32))
    kek_id: Mapped[str] = mapped_column(ForeignKey("keks.id"))
    #: ``W1 | nonce | AEAD(DEK)`` under the KEK; NULL once destroyed.
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    created_at: Mapped[datetime]
    destroyed_at: Mapped[datetime | None]
