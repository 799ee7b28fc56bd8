"""How the configuration says who is who: one admin person, every identity of theirs;
and what it refuses because the bot could not tell one person from two."""

from __future__ import annotations

import tomllib

import pytest

from medcrypt.bot.adapters.channels import channels
from medcrypt.bot.domain.config import parse_settings
from medcrypt.crypto.errors import ConfigError
from tests.support.admins import A_SECOND_PHONE, WA_ADMIN_1, WA_ADMIN_2

ENV = "MEDCRYPT_ADMIN_WHATSAPP"


def keys(clinic: dict[str, object], numbers: str = "") -> dict[tuple[str, str], str]:
    found = channels(parse_settings({"clinic": clinic}), {ENV: numbers} if numbers else {})
    return {(p.value, a): k for p, c in found.items() for a, k in c.config_admins.items()}


def test_one_person_on_both_platforms_is_one_key() -> None:
    got = keys({"admins": [{"handle": "lee", "telegram_ids": [111, 112]},
                           {"handle": "kim"}]},
               f"lee={A_SECOND_PHONE}, kim = {WA_ADMIN_1} ,{WA_ADMIN_2}")
    assert got[("telegram", "111")] == got[("telegram", "112")] == \
        got[("whatsapp", f"whatsapp:{A_SECOND_PHONE}")] == "config:lee"
    assert got[("whatsapp", f"whatsapp:{WA_ADMIN_1}")] == "config:kim"
    bare = got[("whatsapp", f"whatsapp:{WA_ADMIN_2}")]  # a person of one identity
    assert bare.startswith("config:whatsapp#") and WA_ADMIN_2[1:] not in bare


def test_the_example_form_of_persons_loads_as_an_array_of_tables() -> None:
    data = tomllib.loads('[[clinic.admins]]\nhandle = "lee"\ntelegram_ids = [111]\n'
                        '[[clinic.admins]]\nhandle = "kim"\n')
    settings = parse_settings(data)
    assert [(p.handle, p.telegram_ids) for p in settings.clinic.admins] == [
        ("lee", [111]), ("kim", [])]


@pytest.mark.parametrize(("clinic", "numbers", "key", "says"), [
    ({"admin_telegram_ids": [111]}, WA_ADMIN_1, "clinic.admins", "same person"),
    ({}, f"lee={WA_ADMIN_1}", "clinic.admin_whatsapp_numbers_env", "'lee'"),
    ({}, "+1555", "clinic.admin_whatsapp_numbers_env", "entry 1"),
    ({}, f"{WA_ADMIN_1},{WA_ADMIN_2},{WA_ADMIN_1}", "clinic.admin_whatsapp_numbers_env",
     "entry 3"),
    ({"admins": [{"handle": "a", "telegram_ids": [1]}, {"handle": "b", "telegram_ids": [1]}]},
     "", "clinic.admins[1].telegram_ids", "another admin"),
    ({"admins": [{"handle": "a", "telegram_ids": [1]}], "admin_telegram_ids": [1]},
     "", "clinic.admins[0].telegram_ids", "another admin"),
    ({"admins": [{"handle": "a"}, {"handle": "a"}]}, "", "clinic.admins[1].handle", "two"),
    ({"admins": [{"handle": "Dr Lee"}]}, "", "clinic.admins[0].handle", "lowercase"),
    ({"admins": [{"handle": "a", "name": "x"}]}, "", "clinic.admins[0].name", "unknown"),
    ({"admin_telegram_ids": [5, 5]}, "", "clinic.admin_telegram_ids", "twice"),
])
def test_configurations_that_cannot_say_who_is_who_are_refused(
        clinic: dict[str, object], numbers: str, key: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        keys(clinic, numbers)
    assert info.value.key == key and says in str(info.value)
    for number in (WA_ADMIN_1, WA_ADMIN_2):  # never echoed: numbers are personal data
        assert number[2:] not in str(info.value)
