"""Clinic admins made in chat (``admin_persons``, ``clinic_admins``): persons, grants,
who granted whom, revocation.

Admins from the configuration are not stored; these are the persons ``/admin_add``
makes and the grants that bind an identity to one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from medcrypt.storage.encrypted import new_id
from medcrypt.storage.models.admins import AdminPerson, ClinicAdmin
from medcrypt.storage.repos._sql import rowcount


@dataclass(frozen=True, slots=True)
class Grant:
    """One grant as recorded, revoked or not: who it made an admin, and who made it."""

    id: str
    identity_id: str | None
    person_id: str
    added_by: str | None
    confirmed_by: str | None
    #: Audit pseudonyms of the proposer's and the confirmer's persons at grant time.
    added_by_person: str | None
    confirmed_by_person: str | None
    added_at: datetime
    removed_at: datetime | None


def _grant(row: ClinicAdmin) -> Grant:
    return Grant(row.id, row.identity_id, row.person_id, row.added_by, row.confirmed_by,
                 row.added_by_person, row.confirmed_by_person, row.added_at, row.removed_at)


def active_grant(session: Session, identity_id: str) -> str | None:
    """The id of ``identity_id``'s grant that has not been revoked, if any."""
    found = session.scalar(select(ClinicAdmin.id).where(
        ClinicAdmin.identity_id == identity_id, ClinicAdmin.removed_at.is_(None)).limit(1))
    return None if found is None else str(found)


def person_of(session: Session, identity_id: str) -> str | None:
    """The chat-made person ``identity_id`` is an admin as (its active grant's), if any."""
    found = session.scalar(select(ClinicAdmin.person_id).where(
        ClinicAdmin.identity_id == identity_id, ClinicAdmin.removed_at.is_(None)).limit(1))
    return None if found is None else str(found)


def new_person(session: Session, *, now: datetime) -> str:
    """A person with no identity yet; :func:`grant` gives it one. Returns its id."""
    person = AdminPerson(id=new_id(), created_at=now)
    session.add(person)
    session.flush()
    return person.id


def grant(session: Session, *, identity_id: str, platform: str, person_id: str,
          added_by: str | None, now: datetime, confirmed_by: str | None = None,
          added_by_person: str | None = None, confirmed_by_person: str | None = None,
          ) -> str:
    """Make ``identity_id`` an admin as ``person_id``; returns the grant's id."""
    row = ClinicAdmin(id=new_id(), platform=platform, identity_id=identity_id,
                      person_id=person_id, added_by=added_by, confirmed_by=confirmed_by,
                      added_by_person=added_by_person,
                      confirmed_by_person=confirmed_by_person, added_at=now)
    session.add(row)
    session.flush()
    return row.id


def person_grants(session: Session, person_id: str) -> list[Grant]:
    """Every grant the person ever had, revoked ones too, oldest first: who made this
    person an admin is history that a revocation does not erase."""
    return [_grant(row) for row in session.scalars(
        select(ClinicAdmin).where(ClinicAdmin.person_id == person_id)
        .order_by(ClinicAdmin.added_at, ClinicAdmin.id))]


def person_identities(session: Session, person_id: str) -> list[str]:
    """Identity ids the person is an admin as now, oldest grant first."""
    return [str(i) for i in session.scalars(
        select(ClinicAdmin.identity_id).where(ClinicAdmin.person_id == person_id,
                                              ClinicAdmin.removed_at.is_(None),
                                              ClinicAdmin.identity_id.is_not(None))
        .order_by(ClinicAdmin.added_at, ClinicAdmin.id))]


def persons(session: Session) -> dict[str, list[str]]:
    """person id -> identity ids with an active grant, oldest first (persons without
    one are left out: they are no admins any more)."""
    found: dict[str, list[str]] = {}
    for person_id, identity_id in session.execute(
            select(ClinicAdmin.person_id, ClinicAdmin.identity_id)
            .where(ClinicAdmin.removed_at.is_(None), ClinicAdmin.identity_id.is_not(None))
            .order_by(ClinicAdmin.added_at, ClinicAdmin.id)):
        found.setdefault(str(person_id), []).append(str(identity_id))
    return found


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
