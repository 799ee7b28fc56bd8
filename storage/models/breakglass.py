"""Break-glass requests: who asked for emergency access to which pairing, and what became of it.

One row per request, a small state machine (``pending`` → ``approved`` | ``denied`` |
``expired``) driven by :mod:`bot.breakglass.requests`. The reason an admin typed may name
a medical situation, so it is sealed under the key tree's ``breakglass`` purpose DEK
(AAD = the DEK, table, column, row);
everything else is routing metadata: identity ids, the pairing id, times, counts and the
SHA-256 of the exported bundle (to recognise the file when its opening is recorded).
The bundle itself is never stored: it is delivered once to the requesting admin.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base
from medcrypt.storage.encrypted import ID_HEX_CHARS, EncryptedField, Sealed, SealedBytes, register

BREAKGLASS_STATES = ("pending", "approved", "denied", "expired")


class BreakGlassRequest(Base):
    __tablename__ = "breakglass_requests"
    __table_args__ = (
        CheckConstraint(f"status IN {BREAKGLASS_STATES!r}", name="status"),
    )

    id: Mapped[str] = mapped_column(String(ID_HEX_CHARS), primary_key=True)
    #: Short id typed in chat (``/approve <code>``): 10 lowercase hex characters.
    code: Mapped[str] = mapped_column(String(10), unique=True)
    pairing_id: Mapped[bytes] = mapped_column(LargeBinary(16), index=True)
    requester_id: Mapped[str] = mapped_column(String(32))
    approver_id: Mapped[str | None] = mapped_column(String(32))
    #: Audit pseudonyms of the requester's and the approver's admin persons, as they were
    #: when each acted: two identities of one person are never two admins.
    requester_person: Mapped[str | None] = mapped_column(String(48))
    approver_person: Mapped[str | None] = mapped_column(String(48))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[Sealed] = mapped_column(SealedBytes)
    #: The DEK (key tree, docs/adr/0037 Amendment 1) ``reason`` is sealed under; NULL
    #: while it is still a v1 keyring value. Every seal and open reads that ``deks`` row
    #: in its transaction. (Deferred: code at an older schema revision still loads rows.)
    dek_id: Mapped[str | None] = mapped_column(ForeignKey("deks.id"), index=True,
                                               deferred=True)
    dek_version: Mapped[int | None] = mapped_column(Integer, index=True, deferred=True)
    requested_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    exported_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]
    bundle_sha256: Mapped[str | None] = mapped_column(String(64))
    deposits: Mapped[int | None] = mapped_column(Integer)
    messages: Mapped[int | None] = mapped_column(Integer)

    #: The clinic's record of an emergency access, kept for accountability: under the
    #: ``breakglass`` purpose DEK, not a person's.
    REASON: ClassVar[EncryptedField] = EncryptedField(
        "breakglass_requests", "reason", tree_purpose="breakglass", tree_scope="purpose")


register(BreakGlassRequest, BreakGlassRequest.REASON)
