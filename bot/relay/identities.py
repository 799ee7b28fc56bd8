"""Platform addresses ↔ pseudonymous identity ids, with the address sealed at rest.

Only adapters hold a platform address (Telegram chat id, ``whatsapp:+...``) and only
for the length of one call. Everything else sees the random id returned here. The
address is sealed under the server keyring with AAD (table, column, row id), so a value
copied to another row does not open, and looked up through a blind index of
``platform:address`` (tried under every configured key version, so rotation needs no
downtime).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messages import Platform
from crypto.clock import Clock
from crypto.keyring import Keyring
from storage.models.bot_relay import BotIdentity

_TABLE = "bot_identities"


@dataclass(frozen=True)
class Resolved:
    identity_id: str
    created: bool


class IdentityDirectory:
    """Resolve and reverse-resolve identities; callers own the session/transaction."""

    def __init__(self, keyring: Keyring, clock: Clock) -> None:
        self._keyring = keyring
        self._clock = clock

    def _index_candidates(self, platform: Platform, address: str) -> list[bytes]:
        return self._keyring.blind_index_candidates(
            _TABLE, "address_index", f"{platform.value}:{address}"
        )

    def find(self, session: Session, platform: Platform, address: str) -> str | None:
        candidates = self._index_candidates(platform, address)
        return session.scalar(
            select(BotIdentity.id).where(BotIdentity.address_index.in_(candidates))
        )

    def resolve(self, session: Session, platform: Platform, address: str) -> Resolved:
        """The identity of ``address``, created (in the caller's transaction) if new."""
        found = self.find(session, platform, address)
        if found is not None:
            return Resolved(found, created=False)
        identity_id = secrets.token_hex(16)
        sealed = self._keyring.seal(
            address.encode("utf-8"), (_TABLE, "address_sealed", identity_id)
        )
        session.add(BotIdentity(
            id=identity_id,
            platform=platform.value,
            address_sealed=sealed,
            address_index=self._keyring.blind_index(
                _TABLE, "address_index", f"{platform.value}:{address}"
            ),
            created_at=self._clock.now(),
            last_inbound_at=None,
            template_sent_at=None,
        ))
        session.flush()
        return Resolved(identity_id, created=True)

    def address_of(self, session: Session, identity_id: str) -> tuple[Platform, str] | None:
        row = session.get(BotIdentity, identity_id)
        if row is None:
            return None
        address = self._keyring.open(row.address_sealed, (_TABLE, "address_sealed", row.id))
        return Platform(row.platform), address.decode("utf-8")

    def platform_of(self, session: Session, identity_id: str) -> Platform | None:
        row = session.get(BotIdentity, identity_id)
        return None if row is None else Platform(row.platform)
