"""The flows a patient lives through, in Spanish, through the sandbox (issue 16).

The real bot on the fake Bot API and the fake Twilio, the clinic's default language
es-MX: the patient on WhatsApp (no language from the platform) gets every reply of the
pairing, ``/status``, ``/help``, ``/unpair`` with its confirmation and refusal, and
``/delete_me`` in Spanish, while the physician, whose Telegram app is in English, gets
the notices of the same flows in English - each message in its recipient's language.
Nothing translated, and no word typed, reaches the bot's logs.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

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
    until,
)

TAG = re.compile(r"\(vinculación ([0-9A-Z]{3}-[0-9A-Z]{3})\)")


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clinic = {"admin_telegram_ids": [ADMIN_A], "default_language": "es_MX"}
    async with live_bot(tmp_path, clock=MovableClock(START), escrow=make_escrow(),
                        clinic=clinic) as running:
        running.tg.user_sets_app_language(PHYSICIAN_TG, "en-US")
        yield running


async def _wa_says(rig: Rig, body: str, *, expect: str) -> str:
    """The patient writes ``body``; the new message containing ``expect``."""
    before = len(rig.tw.messages_to(PATIENT_WA))
    result = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, body)
    assert result.http_status == 200

    def new() -> list[str]:
        return [m.body for m in rig.tw.messages_to(PATIENT_WA)[before:] if expect in m.body]

    await until(new)
    return new()[-1]


async def _paired(rig: Rig) -> str:
    """Pair; the tag, read from the patient's Spanish confirmation."""
    await pair(rig)
    # Under load a Twilio send is retried after a back-off: allow for one.
    await until(lambda: any(TAG.search(t) for t in rig.wa_texts()), timeout=30)
    found = next(TAG.search(t) for t in rig.wa_texts() if TAG.search(t))
    assert found is not None
    return found.group(1)


async def test_pairing_status_and_help_reach_each_member_in_their_language(rig: Rig) -> None:
    tag = await _paired(rig)
    patient = rig.wa_texts()
    assert translate("es_MX", notices.PAIRED_PATIENT, tag=tag) in patient
    assert translate("es_MX", notices.PLATFORM_WARNING, platform="WhatsApp") in patient
    physician = rig.tg_texts(PHYSICIAN_TG)
    assert any(t.startswith("Your patient") and tag in t for t in physician)
    assert not any("vinculación" in t for t in physician)

    status = await _wa_says(rig, "/status", expect="Vinculación 1")
    assert status.startswith(f"Vinculación 1 ({tag}): su papel es paciente; estado: activa.")
    assert "Mes de clave" in status and "el mes anterior se puede leer hasta el" in status
    assert "Pairing" not in status
    english = await rig.tg_says(PHYSICIAN_TG, "/status", expect="Pairing 1")
    assert english.startswith(f"Pairing 1 ({tag}): you are the physician; active.")

    helped = await _wa_says(rig, "/help", expect="Comandos:")
    assert "/unpair [etiqueta de la vinculación]" in helped
    assert "/delete_me, y luego /delete_me <código>" in helped


async def test_unpair_asks_refuses_and_ends_in_spanish_while_the_physician_reads_english(
        rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    tag = await _paired(rig)
    ask = await _wa_says(rig, "/unpair", expect="Para confirmar")
    assert ask.startswith(f"Esto termina la vinculación {tag} para ambas personas")
    line = ask.rsplit("envíe en un máximo de 5 minutos: ", 1)[1].strip()
    code = line.split()[-1]
    assert line == f"/unpair {tag} {code}"

    wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)
    refused = await _wa_says(rig, f"/unpair {tag} {wrong}", expect="No se hizo nada")
    assert refused == translate("es_MX", "Nothing was done: that code is not one this bot "
                                "gave out (or it is long expired).")

    ask = await _wa_says(rig, "/unpair", expect="Para confirmar")
    line = ask.rsplit("envíe en un máximo de 5 minutos: ", 1)[1].strip()
    ended = await _wa_says(rig, line, expect="terminó")
    assert ended == translate("es_MX", notices.UNPAIRED, tag=tag)
    told = translate("en", notices.PARTNER_UNPAIRED, tag=tag)
    await until(lambda: told in rig.tg_texts(PHYSICIAN_TG))
    none = await _wa_says(rig, "/status", expect="vincúlese")
    assert none == translate("es_MX", notices.NOT_PAIRED)

    logs = capsys.readouterr()
    text = logs.out + logs.err
    assert "confirmation_refused" in text or "audit_event" in text  # logs were captured
    for leak in ("Esto termina", "No se hizo nada", "terminó", "vincúlese", code,
                 "Your conversation partner"):
        assert leak not in text


async def test_delete_me_asks_and_says_goodbye_in_spanish(rig: Rig) -> None:
    tag = await _paired(rig)
    ask = await _wa_says(rig, "/delete_me", expect="Para confirmar")
    assert ask.startswith("Esto borra de forma definitiva todo lo que el servicio tiene")
    line = ask.rsplit("envíe en un máximo de 5 minutos: ", 1)[1].strip()
    # The goodbye goes back in the webhook's answer: nothing can be queued for an
    # identity that is gone - but it was written in the patient's language first.
    result = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, line)
    assert result.http_status == 200
    assert translate("es_MX", notices.DELETED) in result.response_body
    assert translate("en", notices.DELETED) not in result.response_body
    told = translate("en", notices.PARTNER_UNPAIRED, tag=tag)
    await until(lambda: told in rig.tg_texts(PHYSICIAN_TG))
    await until(lambda: any(t.startswith("MedCrypt: the other person ended this conversation")
                            and tag in t for t in rig.tg_texts(PHYSICIAN_TG)))


async def test_an_admin_whose_app_is_in_spanish_reads_the_admin_replies_in_spanish(
        rig: Rig) -> None:
    rig.tg.user_sets_app_language(ADMIN_A, "es-MX")
    tag = await _paired(rig)
    stats = await rig.tg_says(ADMIN_A, "/stats", expect="Personas que conoce el bot")
    # One count, one plural form: "1 activa" (not "1 activas"), "0 terminadas".
    assert "Vinculaciones: 1 activa, 0 en espera del paciente, 0 terminadas." in stats
    listed = await rig.tg_says(ADMIN_A, "/pairings", expect="Vinculaciones 1-1 de 1")
    assert f"{tag}: telegram, whatsapp; activa; última actividad " in listed
    ask = await rig.tg_says(ADMIN_A, f"/shred {tag}", expect="Para confirmar")
    assert ask.startswith(f"Esto termina de forma definitiva la vinculación {tag}")
    # A usage line is Spanish down to its placeholders and its "or".
    usage = await rig.tg_says(ADMIN_A, "/admin_add", expect="otros datos")
    assert ("/admin_add telegram:<id del chat> [<plataforma>:<dirección> del mismo "
            "administrador] o /admin_add whatsapp:+<número> [<plataforma>:<dirección> del "
            "mismo administrador]") in usage, usage
    assert " or " not in usage and "<chat id>" not in usage
