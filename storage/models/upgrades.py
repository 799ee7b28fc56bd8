"""v2 -> v3 upgrades of live pairings (docs/PROTOCOL.md §35.6, docs/adr/0027).

One row per pairing the physician offered to upgrade. ``offer_hash`` names the one
UPGRADE_OFFER the relay carried (a later offer replaces an unanswered one);
``upgraded_at`` is set when the patient's answer naming that offer passed: from then on
the pairing is v3 and no further upgrade token is relayed. A hash only, never a key or
a token body. A pairing without a row here is v2 (or was paired in v3).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base


class PairingUpgrade(Base):
    __tablename__ = "pairing_upgrades"

    pairing_id: Mapped[str] = mapped_column(
        ForeignKey("pairings.pairing_id", ondelete="CASCADE"), primary_key=True)
    #: SHA-256("MEDCRYPT v3 upgrade offer hash" || UPGRADE_OFFER bytes), 32 bytes.
    offer_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    offered_at: Mapped[datetime]
    offer_expires_at: Mapped[datetime]
    #: When the patient's answer to the offer passed; NULL while the pairing is still v2.
    upgraded_at: Mapped[datetime | None]
