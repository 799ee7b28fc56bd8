"""Pending confirmations of risky chat commands (``confirmations``).

The second step of a command such as ``/admin_add`` or ``/delete_me``: the bot hands out
a one-time code and the command runs only when it comes back, with the same arguments,
from whoever the command says must confirm, within five minutes
(:mod:`bot.domain.confirmations`). A database reader must not be able to use or forge
one, and must not learn the arguments (they may be a phone number), so a row holds:

- the SHA-256 of the code, never the code;
- the binding: HMAC-SHA256 keyed by the code over the command and its canonical
  arguments - without the code it is a random-looking value, so a number cannot be
  guessed from it;
- who asked (identity id, and the audit pseudonym of their person) and who may confirm.

``used_at`` is set by the one attempt that takes the code, whatever its outcome: a code
is good for one try. Old rows are pruned (:mod:`bot.domain.retention`); a code whose row
is gone is simply unknown, so a replayed confirmation changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base

CONFIRMERS = ("asker", "other_person")


class Confirmation(Base):
    __tablename__ = "confirmations"
    __table_args__ = (CheckConstraint(f"confirm_by IN {CONFIRMERS!r}", name="confirm_by"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code_sha256: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    #: The command's name (``admin_add``); its arguments are only in :attr:`binding`.
    command: Mapped[str] = mapped_column(String(32))
    binding: Mapped[bytes] = mapped_column(LargeBinary(32))
    asker_id: Mapped[str] = mapped_column(
        ForeignKey("platform_identities.id", ondelete="CASCADE"), index=True)
    #: Audit pseudonym of the asker's person (an identity that is no admin is a person
    #: of its own).
    asker_person: Mapped[str] = mapped_column(String(48))
    #: ``asker``: the same identity confirms; ``other_person``: an admin who is another
    #: person than the asker.
    confirm_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
