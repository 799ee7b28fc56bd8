"""Encrypted attachments served to Twilio at short-lived, unguessable URLs.

WhatsApp media must be fetched by Twilio from a URL. The file is already end-to-end
encrypted by the companion; the URL carries a random token of which only the SHA-256
is stored, so a database reader cannot fetch anything. Rows cascade with their epoch.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base
from medcrypt.storage.encrypted import ID_HEX_CHARS


class MediaBlob(Base):
    __tablename__ = "media_blobs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["pairing_id", "epoch"], ["epochs.pairing_id", "epochs.epoch"], ondelete="CASCADE"
        ),
        # The shred deletes media by (pairing, epoch), and the cascade from ``epochs``
        # looks rows up by the same key: without it both scan the whole table.
        Index(None, "pairing_id", "epoch"),
    )

    id: Mapped[str] = mapped_column(String(ID_HEX_CHARS), primary_key=True)
    #: The epoch a relayed file belongs to (its rows go when the epoch is shredded). NULL
    #: for the bot's own documents, e.g. a break-glass bundle for an admin, which belong
    #: to no epoch and are pruned once delivered.
    pairing_id: Mapped[str | None] = mapped_column(String(32))
    epoch: Mapped[int | None] = mapped_column(Integer)
    #: E2E-encrypted file bytes, or NULL when stored on disk at ``path``.
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    path: Mapped[str | None] = mapped_column(String(512))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    #: SHA-256 of the current URL token (a fresh one is minted for every send); the
    #: token itself is never stored. NULL until the file is first offered to Twilio.
    url_token_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime]
    #: When the current URL stops working; NULL while no URL has been minted.
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
