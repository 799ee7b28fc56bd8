"""Platform identities: find by blind index, create, reveal, erase."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medcrypt.crypto.errors import StorageError
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.encrypted import new_id
from medcrypt.storage.models.identities import ROLES, PlatformIdentity
from medcrypt.storage.normalize import normalize_address


def find_identity(
    session: Session, keyring: Keyring, platform: str, address: str | int
) -> PlatformIdentity | None:
    """The live identity with this address on ``platform`` (any key version), or None."""
    normalized = normalize_address(platform, address)
    candidates = PlatformIdentity.ADDRESS.index_candidates(keyring, normalized)
    stmt = select(PlatformIdentity).where(
        PlatformIdentity.platform == platform,
        PlatformIdentity.address_bidx.in_(candidates),
        PlatformIdentity.deleted_at.is_(None),
    )
    return session.scalars(stmt).first()


def get_identity(session: Session, identity_id: str) -> PlatformIdentity | None:
    return session.get(PlatformIdentity, identity_id)


def get_or_create_identity(
    session: Session,
    keyring: Keyring,
    platform: str,
    address: str | int,
    *,
    now: datetime,
    role: str | None = None,
) -> tuple[PlatformIdentity, bool]:
    """Find or create the identity; returns ``(identity, created)``."""
    found = find_identity(session, keyring, platform, address)
    if found is not None:
        if role is not None and found.role in ("unknown", role):
            found.role = role
        return found, False
    if role is not None and role not in ROLES:
        raise StorageError(f"unknown role {role!r}")
    identity = PlatformIdentity(
        id=new_id(), platform=platform, role=role or "unknown", created_at=now
    )
    PlatformIdentity.ADDRESS.store(identity, keyring, normalize_address(platform, address))
    try:
        with session.begin_nested():  # a concurrent first contact may win the insert
            session.add(identity)
            session.flush()
    except IntegrityError:
        found = find_identity(session, keyring, platform, address)
        if found is None:
            raise
        return found, False
    return identity, True


def reveal_address(identity: PlatformIdentity, keyring: Keyring) -> str:
    """The normalized chat id / phone number, for the adapter that sends to it."""
    value = PlatformIdentity.ADDRESS.reveal(identity, keyring)
    if value is None:
        raise StorageError("identity has been erased; it has no address")
    return value


def set_label(identity: PlatformIdentity, keyring: Keyring, label: str | None) -> None:
    PlatformIdentity.LABEL.store(identity, keyring, label)


def reveal_label(identity: PlatformIdentity, keyring: Keyring) -> str | None:
    return PlatformIdentity.LABEL.reveal(identity, keyring)


def set_role(identity: PlatformIdentity, role: str) -> None:
    if role not in ROLES:
        raise StorageError(f"unknown role {role!r}")
    identity.role = role


def erase_identity(session: Session, identity: PlatformIdentity, *, now: datetime) -> None:
    """Forget the address and label (GDPR erasure); the row stays for references."""
    PlatformIdentity.ADDRESS.clear(identity)
    PlatformIdentity.LABEL.clear(identity)
    identity.deleted_at = now
    session.flush()

