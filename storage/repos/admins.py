"""Clinic admins: grant, revoke, and the check every admin command runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from medcrypt.crypto.errors import StorageError
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.encrypted import new_id
from medcrypt.storage.models.admins import ClinicAdmin
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.normalize import normalize_address


def add_admin(
    session: Session,
    keyring: Keyring,
    *,
    now: datetime,
    identity: PlatformIdentity | None = None,
    platform: str | None = None,
    address: str | int | None = None,
    added_by: str | None = None,
) -> ClinicAdmin:
    """Grant admin rights to a known identity, or to an address not yet seen."""
    if identity is not None:
        row = ClinicAdmin(
            id=new_id(), platform=identity.platform, identity_id=identity.id,
            added_by=added_by, added_at=now,
        )
    elif platform is not None and address is not None:
        row = ClinicAdmin(
            id=new_id(), platform=platform, identity_id=None, added_by=added_by, added_at=now,
        )
        ClinicAdmin.ADDRESS.store(row, keyring, normalize_address(platform, address))
    else:
        raise StorageError("add_admin needs an identity or a platform and address")
    session.add(row)
    session.flush()
    return row


def _active_rows(
    session: Session, keyring: Keyring, identity: PlatformIdentity
) -> list[ClinicAdmin]:
    conditions = [ClinicAdmin.identity_id == identity.id]
    if identity.address is not None:
        address = PlatformIdentity.ADDRESS.reveal(identity, keyring)
        if address is not None:
            candidates = ClinicAdmin.ADDRESS.index_candidates(keyring, address)
            conditions.append(
                (ClinicAdmin.platform == identity.platform)
                & ClinicAdmin.address_bidx.in_(candidates)
            )
    stmt = select(ClinicAdmin).where(ClinicAdmin.removed_at.is_(None), or_(*conditions))
    return list(session.scalars(stmt))


def is_admin(session: Session, keyring: Keyring, identity: PlatformIdentity) -> bool:
    """True if ``identity`` is an active admin; binds address-only grants to it."""
    rows = _active_rows(session, keyring, identity)
    for row in rows:
        if row.identity_id is None:
            row.identity_id = identity.id
    if rows:
        session.flush()
    return bool(rows)


def remove_admin(
    session: Session, keyring: Keyring, identity: PlatformIdentity, *, now: datetime
) -> int:
    """Revoke every active grant for ``identity``; returns how many were revoked."""
    rows = _active_rows(session, keyring, identity)
    for row in rows:
        row.removed_at = now
    session.flush()
    return len(rows)


def list_admins(session: Session) -> list[ClinicAdmin]:
    stmt = select(ClinicAdmin).where(ClinicAdmin.removed_at.is_(None)).order_by(
        ClinicAdmin.added_at
    )
    return list(session.scalars(stmt))
