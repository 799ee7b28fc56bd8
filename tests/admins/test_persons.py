"""How an identity is judged: its configured person, a person made in chat, or a person
of its own - and who made a person an admin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from medcrypt.bot.domain import persons
from medcrypt.bot.domain.messages import Platform
from medcrypt.storage.repos import admins
from tests.support.admins import A_SECOND_PHONE
from tests.support.handling import T0, World, world

ENV = "MEDCRYPT_ADMIN_WHATSAPP"


@pytest.fixture
def w(migrated_database_url: str) -> Iterator[World]:
    with world(migrated_database_url, {"admins": [{"handle": "lee", "telegram_ids": [111]}]},
               {ENV: f"lee={A_SECOND_PHONE}"}) as made:
        yield made


def test_an_identity_is_its_configured_person_whatever_the_database_says(w: World) -> None:
    with w.services.sessions.begin() as s:
        telegram = w.identity(s, Platform.TELEGRAM, "111")
        phone = w.identity(s, Platform.WHATSAPP, f"whatsapp:{A_SECOND_PHONE}")
        stranger = w.identity(s, Platform.TELEGRAM, "999")
        # A chat grant made before the configuration grouped this number with lee.
        admins.grant(s, identity_id=phone, platform="whatsapp",
                     person_id=admins.new_person(s, now=T0), added_by=None, now=T0)
        lee = persons.person_of(w.services, s, telegram)
        assert lee == persons.person_of(w.services, s, phone) == persons.Person("config:lee")
        assert lee.is_admin and lee.configured
        own = persons.person_of(w.services, s, stranger)
        assert not own.is_admin and persons.admin_person(w.services, s, stranger) is None
        assert persons.ref(w.services, own) != persons.ref(w.services, lee)
        assert persons.ref(w.services, lee).startswith("person:")


def test_who_made_a_person_an_admin_is_remembered_and_resolved_again(w: World) -> None:
    with w.services.sessions.begin() as s:
        lee = w.identity(s, Platform.TELEGRAM, "111")
        other = w.identity(s, Platform.TELEGRAM, "222")
        newcomer = w.identity(s, Platform.TELEGRAM, "333")
        lee_ref = persons.ref(w.services, persons.person_of(w.services, s, lee))
        person = admins.new_person(s, now=T0)
        # Recorded without person pseudonyms (a grant from before persons existed).
        admins.grant(s, identity_id=newcomer, platform="telegram", person_id=person,
                     added_by=lee, now=T0)
        made = persons.person_of(w.services, s, newcomer)
        assert made == persons.chat_person(person)
        assert lee_ref in persons.appointers(w.services, s, made)
        assert persons.appointers(w.services, s, persons.Person("config:lee")) == set()
        assert persons.identities_of(s, made) == [newcomer]
        assert persons.ref(w.services, persons.person_of(w.services, s, other)) not in \
            persons.appointers(w.services, s, made)
