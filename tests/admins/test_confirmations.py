"""The confirmation primitive on SQLite and PostgreSQL: fresh, bound to the command and
its arguments and to who may confirm, single use, five minutes, stored hashed, every
refusal audited."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from datetime import timedelta

import pytest

from medcrypt.bot.domain import confirmations
from medcrypt.bot.domain.confirmations import ConfirmationRefused, ConfirmBy, Refusal
from medcrypt.bot.domain.messages import Platform
from medcrypt.crypto.errors import StorageError
from tests.support.admins import WA_ADMIN_1
from tests.support.handling import World, world

ADMIN_A, ADMIN_B, USER = "111", "222", "333"
ARGS = ["whatsapp:+15557770013"]


@pytest.fixture
def w(migrated_database_url: str) -> Iterator[World]:
    """Two configured admin persons: A (Telegram 111 and a WhatsApp number), B (222)."""
    with world(migrated_database_url, {"admins": [{"handle": "a", "telegram_ids": [111]}],
                              "admin_telegram_ids": [222]},
               {"MEDCRYPT_ADMIN_WHATSAPP": f"a={WA_ADMIN_1}"}) as made:
        yield made


def refused(w: World, sender: str, code: str, *, command: str = "admin_add",
            args: list[str] = ARGS, platform: Platform = Platform.TELEGRAM) -> Refusal:
    with w.services.sessions.begin() as s:
        h = w.handling(s, w.identity(s, platform, sender), platform)
        with pytest.raises(ConfirmationRefused) as info:
            confirmations.redeem(h, command, args, code)
        return info.value.why


def ask(w: World, sender: str, confirm_by: ConfirmBy, *, command: str = "admin_add",
        args: list[str] = ARGS) -> str:
    with w.services.sessions.begin() as s:
        h = w.handling(s, w.identity(s, Platform.TELEGRAM, sender))
        return confirmations.ask(h, command, args, confirm_by=confirm_by).code


def redeem(w: World, sender: str, code: str, *, args: list[str] = ARGS) -> None:
    with w.services.sessions.begin() as s:
        h = w.handling(s, w.identity(s, Platform.TELEGRAM, sender))
        confirmations.redeem(h, "admin_add", args, code)


def test_a_code_confirms_once_and_only_within_five_minutes(w: World) -> None:
    code = ask(w, ADMIN_A, ConfirmBy.ASKER)
    assert len(code) == confirmations.CODE_CHARS and set(code) <= set(confirmations.ALPHABET)
    w.clock.set(w.clock.now() + timedelta(minutes=4, seconds=59))
    redeem(w, ADMIN_A, code.lower())  # read back in any case
    assert refused(w, ADMIN_A, code) is Refusal.USED
    late = ask(w, ADMIN_A, ConfirmBy.ASKER)
    w.clock.set(w.clock.now() + confirmations.TTL)
    assert refused(w, ADMIN_A, late) is Refusal.EXPIRED


def test_a_code_is_bound_to_the_command_and_its_arguments_and_used_by_any_try(
        w: World) -> None:
    code = ask(w, ADMIN_A, ConfirmBy.ASKER)
    assert refused(w, ADMIN_A, code, args=["whatsapp:+15557770099"]) is Refusal.MISMATCH
    assert refused(w, ADMIN_A, code) is Refusal.USED  # the wrong try took it
    code = ask(w, ADMIN_A, ConfirmBy.ASKER)
    assert refused(w, ADMIN_A, code, command="admin_remove") is Refusal.MISMATCH
    code = ask(w, ADMIN_A, ConfirmBy.ASKER, args=["a", "bc"])
    assert refused(w, ADMIN_A, code, args=["ab", "c"]) is Refusal.MISMATCH


def test_only_the_asker_confirms_their_own(w: World) -> None:
    code = ask(w, ADMIN_A, ConfirmBy.ASKER)
    assert refused(w, ADMIN_B, code) is Refusal.NOT_ASKER
    assert refused(w, ADMIN_A, code) is Refusal.USED


def test_another_person_means_another_admin_person(w: World) -> None:
    code = ask(w, ADMIN_A, ConfirmBy.OTHER_PERSON)
    assert refused(w, ADMIN_A, code) is Refusal.SAME_PERSON
    code = ask(w, ADMIN_A, ConfirmBy.OTHER_PERSON)  # A's WhatsApp identity is A
    assert refused(w, WA_ADMIN_1, code, platform=Platform.WHATSAPP) is Refusal.SAME_PERSON
    code = ask(w, ADMIN_A, ConfirmBy.OTHER_PERSON)
    assert refused(w, USER, code) is Refusal.NOT_ADMIN
    code = ask(w, ADMIN_A, ConfirmBy.OTHER_PERSON)
    redeem(w, ADMIN_B, code)
    # Asked by someone who is no admin (any more): two admins agree, or nothing happens.
    code = ask(w, USER, ConfirmBy.OTHER_PERSON)
    assert refused(w, ADMIN_B, code) is Refusal.ASKER_NOT_ADMIN


def test_unknown_and_malformed_codes_are_refused(w: World) -> None:
    assert refused(w, ADMIN_B, "0" * confirmations.CODE_CHARS) is Refusal.UNKNOWN
    assert refused(w, ADMIN_B, "not-a-code") is Refusal.UNKNOWN
    assert confirmations.code_in(["whatsapp:+15557770013"]) is None
    assert confirmations.code_in(["x", "7q2mxr4pao"]) == "7Q2MXR4PA0"


def test_every_refusal_is_audited_without_the_code_or_arguments(w: World) -> None:
    code = ask(w, ADMIN_A, ConfirmBy.OTHER_PERSON)
    refused(w, ADMIN_A, code)
    refused(w, ADMIN_B, "0" * confirmations.CODE_CHARS)
    entries = [e for e in w.services.audit.export() if e.action == "confirmation.refused"]
    assert [(e.details or {}).get("reason") for e in entries] == ["same_person", "unknown"]
    assert all((e.details or {}).get("command") == "admin_add" for e in entries)
    assert not any(code in repr(e) or ARGS[0] in repr(e) for e in entries)


def test_the_database_holds_neither_the_code_nor_the_arguments(w: World) -> None:
    code = ask(w, ADMIN_A, ConfirmBy.OTHER_PERSON)
    with w.engine.connect() as c:
        row = c.exec_driver_sql(
            "SELECT code_sha256, binding, command, asker_person FROM confirmations").one()
        dump = b"".join(bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
                        for r in c.exec_driver_sql("SELECT * FROM confirmations") for v in r)
    assert bytes(row[0]) == hashlib.sha256(code.encode()).digest()
    assert code.encode() not in dump and b"15557770013" not in dump
    # Without the code the binding says nothing: it is not a hash of the arguments.
    assert bytes(row[1]) != hashlib.sha256(confirmations.canonical("admin_add", ARGS)).digest()
    assert row[2] == "admin_add" and str(row[3]).startswith("person:")


def test_codes_come_from_the_bundles_randomness_and_never_repeat(w: World) -> None:
    stuck = dataclasses.replace(w.services, rng=lambda n: bytes(range(n)))
    with w.services.sessions.begin() as s:
        sender = w.identity(s, Platform.TELEGRAM, ADMIN_A)
        h = w.handling(s, sender)
        h.services = stuck
        assert confirmations.ask(h, "admin_add", ARGS, confirm_by=ConfirmBy.ASKER).code == \
            confirmations.ALPHABET[:confirmations.CODE_CHARS]
        with pytest.raises(StorageError, match="randomness"):
            confirmations.ask(h, "admin_add", ARGS, confirm_by=ConfirmBy.ASKER)
    assert len({ask(w, ADMIN_A, ConfirmBy.ASKER) for _ in range(20)}) == 20
