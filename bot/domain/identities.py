"""Platform addresses ↔ pseudonymous identity ids, with the address sealed at rest.

Only adapters hold a platform address and only for the length of one call; this module
hands out the normalized form :mod:`storage.normalize` indexes, and each adapter dresses
it for its own API. Everything else sees the random id returned here. The
address lives in ``platform_identities`` sealed under the server keyring (AAD = table,
column, row id) and is found through its blind index, tried under every configured key
version so key rotation needs no downtime (:mod:`storage.repos.identities`). An erased
identity (``/delete_me``) keeps its row for references but has no address: it can no
longer be found or written to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from medcrypt.bot.domain.messages import Platform
from medcrypt.crypto.clock import Clock
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.normalize import normalize_address
from medcrypt.storage.repos.identities import get_or_create_identity, reveal_address

_PLATFORM_CACHE_MAX = 200_000
_TABLE: Table = PlatformIdentity.__table__  # type: ignore[assignment]
#: Built once: constructing a statement per message cost more than running it.
_FIND = (select(_TABLE.c.id, _TABLE.c.last_inbound_at, _TABLE.c.template_sent_at)
         .where(_TABLE.c.platform == bindparam("platform"),
                _TABLE.c.address_bidx.in_(bindparam("candidates", expanding=True)),
                _TABLE.c.deleted_at.is_(None)).limit(1))
_ADDRESSES = (select(_TABLE.c.id, _TABLE.c.platform, _TABLE.c.address)
              .where(_TABLE.c.id.in_(bindparam("ids", expanding=True)),
                     _TABLE.c.deleted_at.is_(None)))


@dataclass(frozen=True)
class Resolved:
    identity_id: str
    created: bool
    #: What intake needs of the row without loading it into the session (the messaging
    #: window's bookkeeping, see :mod:`bot.domain.channels`).
    last_inbound_at: datetime | None = None
    template_sent_at: datetime | None = None


class IdentityDirectory:
    """Resolve and reverse-resolve identities; callers own the session/transaction."""

    def __init__(self, keyring: Keyring, clock: Clock) -> None:
        self._keyring = keyring
        self._clock = clock
        #: identity id → platform. A row's platform never changes, so this cannot go
        #: stale; erasure is still read from the row wherever it matters (address_of).
        self._platforms: dict[str, Platform] = {}

    def _lookup(self, session: Session, platform: Platform, address: str) -> Any:
        """The live row for ``address`` (id and window columns) or None: one Core SELECT
        through the blind index under every key version."""
        normalized = normalize_address(platform.value, address)
        return session.connection().execute(_FIND, {
            "platform": platform.value,
            "candidates": PlatformIdentity.ADDRESS.index_candidates(self._keyring, normalized),
        }).first()

    def find(self, session: Session, platform: Platform, address: str) -> str | None:
        found = self._lookup(session, platform, address)
        return None if found is None else str(found.id)

    def resolve(self, session: Session, platform: Platform, address: str) -> Resolved:
        """The identity of ``address``, created (in the caller's transaction) if new.

        Every inbound message comes through here, so a known sender is found with one
        Core SELECT (no ORM object); only a first contact goes through the repository.
        """
        found = self._lookup(session, platform, address)
        if found is not None:
            return Resolved(found.id, created=False, last_inbound_at=found.last_inbound_at,
                            template_sent_at=found.template_sent_at)
        identity, created = get_or_create_identity(
            session, self._keyring, platform.value, address, now=self._clock.now())
        return Resolved(identity.id, created=created, last_inbound_at=identity.last_inbound_at,
                        template_sent_at=identity.template_sent_at)

    def address_of(self, session: Session, identity_id: str) -> tuple[Platform, str] | None:
        """Where to send: the platform and the normalized address, for its adapter."""
        return self.addresses_of(session, [identity_id]).get(identity_id)

    def addresses_of(self, session: Session,
                     identity_ids: Iterable[str]) -> dict[str, tuple[Platform, str]]:
        """:meth:`address_of` for a batch, in one Core SELECT (the outbox claims in
        batches); erased or unknown identities are simply absent."""
        wanted = set(identity_ids)
        if not wanted:
            return {}
        rows = session.connection().execute(_ADDRESSES, {"ids": list(wanted)}).all()
        out: dict[str, tuple[Platform, str]] = {}
        for row in rows:
            address = reveal_address(row, self._keyring)  # type: ignore[arg-type]
            out[row.id] = (Platform(row.platform), address)
        return out

    def platform_of(self, session: Session, identity_id: str) -> Platform | None:
        """The platform to format for (re-split limits). An erased identity may still
        answer from the cache: nothing is ever sent to it (``address_of`` says None)."""
        known = self._platforms.get(identity_id)
        if known is not None:
            return known
        row = session.get(PlatformIdentity, identity_id)
        if row is None or row.deleted_at is not None:
            return None
        if len(self._platforms) >= _PLATFORM_CACHE_MAX:
            self._platforms.clear()
        self._platforms[identity_id] = platform = Platform(row.platform)
        return platform
