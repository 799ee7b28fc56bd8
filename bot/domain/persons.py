"""Clinic admins are persons: who is one, which identities are theirs, who made them one.

Break-glass and admin grants need a *second person*, so the unit every rule compares is
the person, never the platform identity a message came from. A person is either

- configured: ``[[clinic.admins]]`` or the one-identity shorthands
  (:mod:`bot.adapters.channels` maps each configured address to its person's key), or
- made in chat: ``/admin_add``, confirmed by a second admin person, is a grant that binds
  an identity to a person row (:mod:`storage.repos.admins`).

An identity listed in the configuration belongs to its configured person whatever the
database says. An identity that is no admin is a person of its own, so every identity
has a person - the rules ("another person", "not appointed by the requester") need not
special-case anyone.

Person keys live in memory only. What is stored (who granted whom, who asked for a
break-glass) and what is audited is a key's pseudonym under the audit log's key
(:func:`ref`): stable across server-key rotations, and no number behind it can be
recovered without that key.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from medcrypt.bot.domain.messages import Platform
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.errors import MalformedToken
from medcrypt.storage.db import Session
from medcrypt.storage.normalize import normalize_address
from medcrypt.storage.repos import admins


@dataclass(frozen=True)
class Person:
    #: ``config:<...>`` (configured), ``chat:<row id>`` (made in chat) or
    #: ``identity:<identity id>`` (no admin: a person of one identity).
    key: str

    @property
    def configured(self) -> bool:
        return self.key.startswith("config:")

    @property
    def is_admin(self) -> bool:
        return not self.key.startswith("identity:")

    @property
    def row_id(self) -> str | None:
        """The ``admin_persons`` row of a person made in chat."""
        return self.key.removeprefix("chat:") if self.key.startswith("chat:") else None


def chat_person(row_id: str) -> Person:
    return Person(f"chat:{row_id}")


def _configured(services: Services) -> dict[tuple[Platform, str], str]:
    """(platform, normalized address) -> person key, for every configured admin."""
    found: dict[tuple[Platform, str], str] = {}
    for channel in services.channels.values():
        for address, key in channel.config_admins.items():
            try:
                found[(channel.platform, normalize_address(channel.platform.value,
                                                           address))] = key
            except MalformedToken:  # pragma: no cover - the adapter built valid forms
                continue
    return found


def configured_person(services: Services, platform: Platform, address: str) -> Person | None:
    """The configured person of an address in the adapter's form, if any."""
    try:
        normalized = normalize_address(platform.value, address)
    except MalformedToken:
        return None
    key = _configured(services).get((platform, normalized))
    return None if key is None else Person(key)


def person_of(services: Services, session: Session, identity_id: str) -> Person:
    """The person ``identity_id`` belongs to (a person of its own when no admin)."""
    found = services.directory.address_of(session, identity_id)
    if found is not None:
        key = _configured(services).get(found)
        if key is not None:
            return Person(key)
    row_id = admins.person_of(session, identity_id)
    return chat_person(row_id) if row_id is not None else Person(f"identity:{identity_id}")


def admin_person(services: Services, session: Session, identity_id: str) -> Person | None:
    """The admin person ``identity_id`` belongs to, or None when it is no admin's."""
    person = person_of(services, session, identity_id)
    return person if person.is_admin else None


def ref(services: Services, person: Person) -> str:
    """The person's audit pseudonym: what is stored and audited instead of the key."""
    return services.audit.pseudonym("person", person.key)


def same(a: str, b: str) -> bool:
    """Compare two person pseudonyms (constant time: one habit for every comparison of
    values derived from a key)."""
    return hmac.compare_digest(a.encode(), b.encode())


def any_same(refs: Iterable[str], person_ref: str) -> bool:
    """Whether ``person_ref`` is among ``refs`` (each compared in constant time)."""
    return any([same(r, person_ref) for r in refs])


def appointers(services: Services, session: Session, person: Person) -> set[str]:
    """Pseudonyms of every person who proposed or confirmed a grant that made ``person``
    an admin - revoked grants too: who made someone an admin stays history.

    Each grant counts twice over: the persons recorded when it was made, and the persons
    its recorded proposer and confirmer identities belong to now (an identity added to
    the requester's person later is the requester too). Configured persons were made by
    the operator, not in chat: none.
    """
    if person.row_id is None:
        return set()
    found: set[str] = set()
    for grant in admins.person_grants(session, person.row_id):
        found.update(r for r in (grant.added_by_person, grant.confirmed_by_person) if r)
        for identity_id in (grant.added_by, grant.confirmed_by):
            if identity_id is not None:
                found.add(ref(services, person_of(services, session, identity_id)))
    return found


def identities_of(session: Session, person: Person) -> list[str]:
    """Identity ids a person made in chat is an admin as (configured persons' identities
    live in the configuration)."""
    return [] if person.row_id is None else admins.person_identities(session, person.row_id)
