"""v3 pairing admission: the offer's admission hash and the accepts waiting for a
physician's confirmation (docs/PROTOCOL.md §34, docs/adr/0021).

Nothing here is a key or a token body: ``admission_hash`` is ``SHA-256`` of a value
that only proves its sender saw the QR, and ``accept_hash`` names an accept without
holding it. A v2 pairing has no row in ``pairing_admissions``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base


class PairingAdmission(Base):
    __tablename__ = "pairing_admissions"

    pairing_id: Mapped[str] = mapped_column(
        ForeignKey("pairings.pairing_id", ondelete="CASCADE"), primary_key=True)
    #: H_A from PAIR_REGISTER v3 (32 bytes).
    admission_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: When two valid accepts from different accounts aborted the offer; NULL otherwise.
    aborted_at: Mapped[datetime | None]


class PendingAccept(Base):
    """One admitted accept per account per pairing, until confirmation or abort."""

    __tablename__ = "pending_accepts"
    __table_args__ = (
        UniqueConstraint("pairing_id", "sender_id"),
        UniqueConstraint("pairing_id", "accept_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pairing_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("pairings.pairing_id", ondelete="CASCADE"), index=True)
    sender_id: Mapped[str] = mapped_column(
        ForeignKey("platform_identities.id", ondelete="CASCADE"), index=True)
    #: SHA-256("MEDCRYPT v3 accept hash" || accept bytes): what KEY_CONFIRM names.
    accept_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    received_at: Mapped[datetime]
