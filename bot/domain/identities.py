"""Platform addresses ↔ pseudonymous identity ids, with the address sealed at rest.

Only adapters hold a platform address and only for the length of one call; this module
hands out the normalized form :mod:`storage.normalize` indexes, and each adapter dresses
it for its own API. Everything else sees the random id returned here. The
address lives in ``platform_identities`` sealed under the person's DEK (AAD = table,
column, row id) and is found through its blind index, tried under every live index key
of the shred epochs and every configured keyring version, so neither closing an epoch
nor rotating the keyring needs downtime (:mod:`storage.repos.identities`, which holds
the statements). An erased identity (``/delete_me``) keeps its row for references but
has no address: it can no longer be found or written to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from medcrypt.bot.domain.messages import Platform
from medcrypt.crypto.clock import Clock
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.db import Session
from medcrypt.storage.repos import identities
from medcrypt.storage.repos.identities import Window

_PLATFORM_CACHE_MAX = 200_000


@dataclass(frozen=True)
class Resolved:
    identity_id: str
    created: bool
    #: What intake needs of the row without loading it into the session (the messaging
    #: window's bookkeeping, see :mod:`bot.domain.channels`).
    last_inbound_at: datetime | None = None
    template_sent_at: datetime | None = None
    #: The stored language of the identity's replies; None: the clinic default.
    language: str | None = None
    #: The person chose ``language`` (/language): their app's language does not override it.
    language_chosen: bool = False


class IdentityDirectory:
    """Resolve and reverse-resolve identities; callers own the session/transaction."""

    def __init__(self, keyring: Keyring, clock: Clock) -> None:
        self._keyring = keyring
        self._clock = clock
        #: identity id → platform. A row's platform never changes, so this cannot go
        #: stale; erasure is still read from the row wherever it matters (address_of).
        self._platforms: dict[str, Platform] = {}

    def _lookup(self, session: Session, platform: Platform, address: str) -> Window | None:
        """(id, last inbound at, template sent at) of the live identity, or None."""
        return identities.find_live(session, self._keyring, platform.value, address)

    def find(self, session: Session, platform: Platform, address: str) -> str | None:
        found = self._lookup(session, platform, address)
        return None if found is None else str(found[0])

    def resolve(self, session: Session, platform: Platform, address: str) -> Resolved:
        """The identity of ``address``, created (in the caller's transaction) if new.

        Every inbound message comes through here, so a known sender is found with one
        Core SELECT (no ORM object); only a first contact goes through the repository.
        """
        found = self._lookup(session, platform, address)
        if found is not None:
            return Resolved(found[0], created=False, last_inbound_at=found[1],
                            template_sent_at=found[2], language=found[3],
                            language_chosen=bool(found[4]))
        (identity_id, last_inbound_at, template_sent_at, language, chosen), created = \
            identities.ensure_identity(session, self._keyring, platform.value, address,
                                       now=self._clock.now())
        return Resolved(identity_id, created=created, last_inbound_at=last_inbound_at,
                        template_sent_at=template_sent_at, language=language,
                        language_chosen=chosen)

    def address_of(self, session: Session, identity_id: str) -> tuple[Platform, str] | None:
        """Where to send: the platform and the normalized address, for its adapter."""
        return self.addresses_of(session, [identity_id]).get(identity_id)

    def addresses_of(self, session: Session,
                     identity_ids: Iterable[str]) -> dict[str, tuple[Platform, str]]:
        """:meth:`address_of` for a batch, in one Core SELECT (the outbox claims in
        batches); erased or unknown identities are simply absent."""
        out: dict[str, tuple[Platform, str]] = {}
        for identity_id, (name, address) in identities.live_addresses(
                session, self._keyring, identity_ids).items():
            out[identity_id] = (Platform(name), address)
        return out

    def platform_of(self, session: Session, identity_id: str) -> Platform | None:
        """The platform to format for (re-split limits). An erased identity may still
        answer from the cache: nothing is ever sent to it (``address_of`` says None)."""
        known = self._platforms.get(identity_id)
        if known is not None:
            return known
        name = identities.live_platform(session, identity_id)
        if name is None:
            return None
        if len(self._platforms) >= _PLATFORM_CACHE_MAX:
            self._platforms.clear()
        self._platforms[identity_id] = platform = Platform(name)
        return platform
