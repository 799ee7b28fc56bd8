"""Pending confirmations of risky chat commands (``confirmations``): add, take once, prune.

The rules (who may confirm, what the binding covers, how long a code lives) are the
bot's (:mod:`bot.domain.confirmations`); this module only stores what it is given and
makes "take" atomic, so two messages carrying one code cannot both get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from medcrypt.crypto.errors import StorageError
from medcrypt.storage.models.confirmations import CONFIRMERS, Confirmation
from medcrypt.storage.repos._sql import insert_if_absent, rowcount

_TABLE: Table = Confirmation.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Pending:
    """A stored confirmation as the one attempt that took it sees it."""

    code_sha256: bytes
    command: str
    binding: bytes
    asker_id: str
    asker_person: str
    confirm_by: str
    expires_at: datetime
    #: When an earlier attempt took the code; None for the attempt that takes it now.
    used_at: datetime | None


def add(session: Session, *, code_sha256: bytes, command: str, binding: bytes,
        asker_id: str, asker_person: str, confirm_by: str, now: datetime,
        expires_at: datetime) -> bool:
    """Store a new confirmation; False if a row with this code hash exists already
    (the caller draws another code)."""
    if confirm_by not in CONFIRMERS:
        raise StorageError(f"not a confirmer: {confirm_by!r}")
    return insert_if_absent(session, _TABLE, {
        "code_sha256": code_sha256, "command": command, "binding": binding,
        "asker_id": asker_id, "asker_person": asker_person, "confirm_by": confirm_by,
        "created_at": now, "expires_at": expires_at})


_COLUMNS = (Confirmation.code_sha256, Confirmation.command, Confirmation.binding,
            Confirmation.asker_id, Confirmation.asker_person, Confirmation.confirm_by,
            Confirmation.expires_at, Confirmation.used_at)


def take(session: Session, code_sha256: bytes, *, now: datetime) -> Pending | None:
    """Mark the confirmation with this code hash used and return it.

    One ``UPDATE ... WHERE used_at IS NULL RETURNING``: of two concurrent attempts only
    one gets the row with ``used_at`` None. A code taken before comes back with its
    ``used_at`` (the caller refuses it); an unknown code gives None.
    """
    row = session.execute(
        update(Confirmation)
        .where(Confirmation.code_sha256 == code_sha256, Confirmation.used_at.is_(None))
        .values(used_at=now).returning(*_COLUMNS[:-1])
        .execution_options(synchronize_session=False)).first()
    if row is not None:
        return Pending(bytes(row[0]), row[1], bytes(row[2]), row[3], row[4], row[5], row[6],
                       None)
    used = session.execute(select(*_COLUMNS).where(
        Confirmation.code_sha256 == code_sha256)).first()
    if used is None:
        return None
    return Pending(bytes(used[0]), used[1], bytes(used[2]), used[3], used[4], used[5],
                   used[6], used[7])


def purge(session: Session, *, expired_before: datetime) -> int:
    """Forget confirmations that expired before ``expired_before``, used or not."""
    return rowcount(session.execute(
        delete(Confirmation).where(Confirmation.expires_at < expired_before)
        .execution_options(synchronize_session=False)))
