"""The plaintext refusal carries the clinic's emergency wording and number (issue 16).

Through the sandbox: a paired patient on WhatsApp and a physician on Telegram type
plain words and each is told, besides "not sent", where to turn in an emergency - the
clinic's configured words and number. The settings are validated at start.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.bot.domain import notices
from medcrypt.bot.domain.config import ClinicSettings, parse_settings
from medcrypt.crypto.errors import ConfigError
from tests.support.rigs import ADMIN_A, PATIENT_WA, PHYSICIAN_TG, Rig, live_bot, until
from tests.support.tokens import pair

WORDS = "Si es una emergencia, no espere respuesta aquí: llame ahora."
NUMBER = "+52 55 5658 1111"
LINE = notices.emergency(WORDS, NUMBER, "en")


@pytest.fixture
async def clinic(tmp_path: Path) -> AsyncIterator[Rig]:
    async with live_bot(tmp_path, clinic={"admin_telegram_ids": [ADMIN_A],
                                          "emergency_text": WORDS,
                                          "emergency_number": NUMBER}) as running:
        yield running


async def test_plain_words_are_answered_with_the_emergency_number(clinic: Rig) -> None:
    await pair(clinic, os.urandom(16))
    posted = await clinic.tw.user_sends_whatsapp_async(PATIENT_WA, "I have chest pain")
    assert posted.http_status == 200
    await until(lambda: any(m.body.startswith(notices.PLAINTEXT_BLOCKED) and m.body.endswith(
        LINE) for m in clinic.tw.messages_to(PATIENT_WA)))
    reply = await clinic.tg_says(PHYSICIAN_TG, "call me back", expect="Not sent")
    assert reply.startswith(notices.PLAINTEXT_BLOCKED) and reply.endswith(f"\n{LINE}")
    assert "chest pain" not in "".join(clinic.wa_texts())


async def test_the_default_tells_to_call_local_emergency_services(rig: Rig) -> None:
    await pair(rig, os.urandom(16))
    reply = await rig.tg_says(PHYSICIAN_TG, "plain words", expect="Not sent")
    assert reply.endswith("\n" + ClinicSettings().emergency_text)
    assert "local emergency services" in ClinicSettings().emergency_text


@pytest.mark.parametrize(("setting", "value"), [
    ("emergency_number", "call 911"), ("emergency_number", "9"),
    ("emergency_number", "+1 (555) 0100 2233 4455 66"), ("emergency_text", ""),
    ("emergency_text", "two\nlines"), ("emergency_text", "x" * 301),
])
def test_bad_emergency_settings_stop_the_start_naming_the_key(setting: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"clinic": {setting: value}})
    assert caught.value.key == f"clinic.{setting}"


def test_good_emergency_settings_are_taken() -> None:
    for number in ("911", "112", NUMBER, "(55) 5658-1111"):
        assert parse_settings({"clinic": {"emergency_number": number}}).clinic \
            .emergency_number == number


@given(st.text(max_size=30))
def test_emergency_number_setting_is_a_number_or_refused(text: str) -> None:
    try:
        settings = parse_settings({"clinic": {"emergency_number": text}})
    except ConfigError as refused:
        assert refused.key == "clinic.emergency_number"
        return
    number = settings.clinic.emergency_number
    assert number == "" or (2 <= len(number) <= 20
                            and sum(c.isdigit() for c in number) >= 2
                            and set(number) <= set("+0123456789 ()-"))
