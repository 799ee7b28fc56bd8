"""Replies in each person's language, through the sandbox (issue 16, Spanish; ADR 0035).

The real bot on the fake Bot API and the fake Twilio: a Telegram app set to ``es-419``
gets Spanish; a WhatsApp user (whose platform says no language) gets the clinic's
default until ``/language`` switches it; a chosen language outlives the app's; the
monthly rotation notice, which no inbound update carries a language for, reaches each
member in their stored language; and a translated reply is still split to the
platform's limit. The emergency wording is the clinic's, per language.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from medcrypt.bot.domain import notices
from medcrypt.bot.domain.i18n import translate
from tests.support.clocks import MovableClock
from tests.support.conversation import make_escrow, pair
from tests.support.rigs import (
    ADMIN_A,
    PATIENT_WA,
    PHYSICIAN_TG,
    START,
    Rig,
    live_bot,
    run_jobs_at,
    until,
)

EN_WORDS = "If this is an emergency, call 911 now."
ES_WORDS = "Si es una emergencia, llame ahora al 911."
NUMBER = "911"


def _blocked(language: str, words: str, removal: str) -> str:
    """The whole plaintext refusal in a paired chat, as the bot must write it."""
    return (f"{translate(language, notices.PLAINTEXT_BLOCKED)} {removal}\n"
            f"{notices.emergency(words, NUMBER, language)}")


async def _clinic(tmp_path: Path, **extra: Any) -> AsyncIterator[Rig]:
    clinic = {"admin_telegram_ids": [ADMIN_A], "emergency_text": EN_WORDS,
              "emergency_number": NUMBER,
              "emergency_text_by_language": {"es_MX": ES_WORDS},
              **extra.pop("clinic", {})}
    async with live_bot(tmp_path, clock=MovableClock(START), escrow=make_escrow(),
                        clinic=clinic, **extra) as running:
        yield running


@pytest.fixture
async def english_default(tmp_path: Path) -> AsyncIterator[Rig]:
    async for rig in _clinic(tmp_path):
        yield rig


@pytest.fixture
async def spanish_default(tmp_path: Path) -> AsyncIterator[Rig]:
    async for rig in _clinic(tmp_path, clinic={"default_language": "es_MX"},
                             whatsapp={"max_message_chars": 200}):
        yield rig


async def _wa_parts(rig: Rig, body: str, *, last: str) -> list[str]:
    """The patient writes ``body``; the messages of the reply, up to the one ending in
    ``last`` (a long reply arrives as several)."""
    before = len(rig.tw.messages_to(PATIENT_WA))
    result = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, body)
    assert result.http_status == 200
    await until(lambda: any(m.body.endswith(last)
                            for m in rig.tw.messages_to(PATIENT_WA)[before:]))
    return [m.body for m in rig.tw.messages_to(PATIENT_WA)[before:]]


async def _wa_says(rig: Rig, body: str, *, last: str) -> str:
    return "".join(await _wa_parts(rig, body, last=last))


async def _paired(rig: Rig) -> None:
    """Pair, and wait until the patient has every message of it (the next reply is then
    the only new one)."""
    await pair(rig)
    await until(lambda: any("(pairing " in t or "(vinculación " in t for t in rig.wa_texts()))


async def test_a_telegram_app_in_es_419_gets_spanish(
        english_default: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    rig = english_default
    rig.tg.user_sets_app_language(PHYSICIAN_TG, "es-419")
    await _paired(rig)
    reply = await rig.tg_says(PHYSICIAN_TG, "llámeme por favor", expect="No se envió")
    assert reply == _blocked("es_MX", ES_WORDS, translate("es_MX", notices.REMOVED))
    # The patient on WhatsApp (no language from the platform) gets the clinic default.
    said = await _wa_says(rig, "I have chest pain", last=f"{NUMBER}.")
    assert said == _blocked("en", EN_WORDS, translate("en", notices.REMOVE_IT_YOURSELF,
                                                      platform="WhatsApp"))
    # Nothing translated (nor the words typed) reaches the bot's logs.
    logs = capsys.readouterr()
    text = logs.out + logs.err
    assert "audit_event=plaintext_blocked" in text  # the logs were captured
    for leak in ("No se envió", ES_WORDS, "Not sent", "llámeme", "chest pain"):
        assert leak not in text


async def test_whatsapp_starts_in_the_clinic_default_and_language_switches_it(
        spanish_default: Rig) -> None:
    rig = spanish_default
    await _paired(rig)
    parts = await _wa_parts(rig, "tengo dolor en el pecho", last=f"{NUMBER}.")
    # Split to the 200-character limit configured here, and whole once joined.
    full = _blocked("es_MX", ES_WORDS, translate(
        "es_MX", notices.REMOVE_IT_YOURSELF, platform="WhatsApp"))
    assert len(full) > 200 and len(parts) >= 2 and all(len(p) <= 200 for p in parts)
    assert "".join("".join(parts).split()) == "".join(full.split())
    switched = await _wa_says(rig, "/language en", last="English.")
    assert switched == translate("en", notices.LANGUAGE_SET)
    said = await _wa_says(rig, "I have chest pain", last=f"{NUMBER}.")
    full = _blocked("en", EN_WORDS, translate("en", notices.REMOVE_IT_YOURSELF,
                                              platform="WhatsApp"))
    assert "".join(said.split()) == "".join(full.split())


async def test_a_chosen_language_outlives_the_app_language(spanish_default: Rig) -> None:
    rig = spanish_default
    rig.tg.user_sets_app_language(PHYSICIAN_TG, "es-419")
    await _paired(rig)
    assert await rig.tg_says(PHYSICIAN_TG, "/language en", expect="English") == translate(
        "en", notices.LANGUAGE_SET)
    reply = await rig.tg_says(PHYSICIAN_TG, "call me", expect="Not sent")
    assert reply == _blocked("en", EN_WORDS, translate("en", notices.REMOVED))
    assert await rig.tg_says(PHYSICIAN_TG, "/language es", expect="español") == translate(
        "es_MX", notices.LANGUAGE_SET)
    assert await rig.tg_says(PHYSICIAN_TG, "/language fr", expect="/language es") == \
        translate("es_MX", notices.LANGUAGE_USAGE)


async def test_the_rotation_notice_goes_out_in_each_members_stored_language(
        english_default: Rig) -> None:
    rig = english_default
    rig.tg.user_sets_app_language(PHYSICIAN_TG, "es-419")
    await _paired(rig)
    await run_jobs_at(rig, datetime(2026, 12, 1, 0, 5, tzinfo=UTC), "rotation")
    await until(lambda: any("nuevas claves de cifrado" in t
                            for t in rig.tg_texts(PHYSICIAN_TG)))
    await until(lambda: any("new encryption keys from today" in t for t in rig.wa_texts()))
    assert not any("new encryption keys" in t for t in rig.tg_texts(PHYSICIAN_TG))
    assert not any("nuevas claves" in t for t in rig.wa_texts())
