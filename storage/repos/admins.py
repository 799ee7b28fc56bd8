"""Clinic admins added in chat (``clinic_admins``): grant, check, list, revoke.

Admins from the configuration are not stored; these are the grants ``/admin_add``
makes, bound to an identity.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from medcrypt.storage.encrypted import new_id
from medcrypt.storage.models.admins import ClinicAdmin
from medcrypt.storage.repos._sql import rowcount


def active_grant(session: Session, identity_id: str) -> str | None:
    """The id of ``identity_id``'s grant that has not been revoked, if any."""
    found = session.scalar(select(ClinicAdmin.id).where(
        ClinicAdmin.identity_id == identity_id, ClinicAdmin.removed_at.is_(None)).limit(1))
    return None if found is None else str(found)


def grant(session: Session, *, identity_id: str, platform: str, added_by: str | None,
          now: datetime) -> str:
    """Make ``identity_id`` an admin; returns the grant's id."""
    row = ClinicAdmin(id=new_id(), platform=platform, identity_id=identity_id,
                      added_by=added_by, added_at=now)
    session.add(row)
    session.flush()
    return row.id


def admin_identity_ids(session: Session) -> list[str]:
    """Identity ids of every active grant, oldest grant first."""
    return [str(i) for i in session.scalars(
        select(ClinicAdmin.identity_id).where(ClinicAdmin.removed_at.is_(None),
                                              ClinicAdmin.identity_id.is_not(None))
        .order_by(ClinicAdmin.added_at))]


def revoke_grant(session: Session, grant_id: str, *, now: datetime) -> None:
    """Revoke one grant; the row stays (who granted what, and when)."""
    session.execute(update(ClinicAdmin).where(ClinicAdmin.id == grant_id)
                    .values(removed_at=now).execution_options(synchronize_session=False))


def revoke_all(session: Session, identity_id: str, *, now: datetime) -> int:
    """Revoke every active grant of ``identity_id``; returns how many were revoked."""
    return rowcount(session.execute(
        update(ClinicAdmin).where(ClinicAdmin.identity_id == identity_id,
                                  ClinicAdmin.removed_at.is_(None)).values(removed_at=now)))
