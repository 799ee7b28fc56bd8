"""What the relay keeps for v3 break-glass: segment deposits, pinned-key records and the
physicians' enrolled identity keys (docs/PROTOCOL.md §24.2, §34.3, docs/adr/0026).

Nothing here opens anything for the bot. A deposit and a record are sealed boxes to the
clinic's escrow key; an enrolled key is public. Deposits are kept per
(pairing, month, direction, chain id) *and* their digest, so every distinct deposit a
sender made is kept and none can replace another (the first is never overwritten).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base


class SegmentDeposit(Base):
    """One distinct v3 deposit (234-byte sealed box) stripped from a relayed MESSAGE."""

    __tablename__ = "segment_deposits"
    __table_args__ = (
        UniqueConstraint("pairing_id", "epoch", "direction", "chain_id", "digest"),
        CheckConstraint("direction IN (0, 1)", name="direction"),
        Index(None, "pairing_id", "epoch"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pairing_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("pairings.pairing_id", ondelete="CASCADE"))
    epoch: Mapped[int] = mapped_column(Integer)
    direction: Mapped[int] = mapped_column(SmallInteger)
    #: The sender's ratchet public key the segment's tokens name (public, 32 bytes).
    chain_id: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: SHA-256 of ``raw``: what makes a byte-identical repeat a no-op.
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    deposited_at: Mapped[datetime]


class PinnedRecordBox(Base):
    """A pinned-key record sealed to the escrow key, as the physician's companion sent it."""

    __tablename__ = "pinned_records"
    __table_args__ = (UniqueConstraint("pairing_id", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pairing_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("pairings.pairing_id", ondelete="CASCADE"), index=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]


class EnrolledPhysicianKey(Base):
    """A physician identity key the clinic enrolled in an admin step (public, audited)."""

    __tablename__ = "enrolled_physician_keys"

    identity_key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    #: Who the clinic says holds it (a name from its staff register; no phone number).
    label: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[datetime]
    #: When the clinic withdrew it (a lost device, a physician who left); NULL while valid.
    revoked_at: Mapped[datetime | None]
