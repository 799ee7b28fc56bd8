"""Platform addresses ↔ pseudonymous identity ids, with the address sealed at rest.

Only adapters hold a platform address (Telegram chat id, ``whatsapp:+...``) and only
for the length of one call. Everything else sees the random id returned here. The
address lives in ``platform_identities`` sealed under the server keyring (AAD = table,
column, row id) and is found through its blind index, tried under every configured key
version so key rotation needs no downtime (:mod:`storage.repos.identities`). An erased
identity (``/delete_me``) keeps its row for references but has no address: it can no
longer be found or written to.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.messages import Platform
from crypto.clock import Clock
from crypto.keyring import Keyring
from storage.models.identities import PlatformIdentity
from storage.repos.identities import find_identity, get_or_create_identity, reveal_address

_WHATSAPP_PREFIX = "whatsapp:"


@dataclass(frozen=True)
class Resolved:
    identity_id: str
    created: bool


class IdentityDirectory:
    """Resolve and reverse-resolve identities; callers own the session/transaction."""

    def __init__(self, keyring: Keyring, clock: Clock) -> None:
        self._keyring = keyring
        self._clock = clock

    def find(self, session: Session, platform: Platform, address: str) -> str | None:
        found = find_identity(session, self._keyring, platform.value, address)
        return None if found is None else found.id

    def resolve(self, session: Session, platform: Platform, address: str) -> Resolved:
        """The identity of ``address``, created (in the caller's transaction) if new."""
        identity, created = get_or_create_identity(
            session, self._keyring, platform.value, address, now=self._clock.now())
        return Resolved(identity.id, created=created)

    def address_of(self, session: Session, identity_id: str) -> tuple[Platform, str] | None:
        """Where to send: the adapter's form of the address (``whatsapp:`` prefixed)."""
        row = session.get(PlatformIdentity, identity_id)
        if row is None or row.deleted_at is not None:
            return None
        address = reveal_address(row, self._keyring)
        platform = Platform(row.platform)
        if platform is Platform.WHATSAPP:
            address = _WHATSAPP_PREFIX + address
        return platform, address

    def platform_of(self, session: Session, identity_id: str) -> Platform | None:
        row = session.get(PlatformIdentity, identity_id)
        if row is None or row.deleted_at is not None:
            return None
        return Platform(row.platform)
