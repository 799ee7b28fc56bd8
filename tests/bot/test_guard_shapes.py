"""The plaintext guard sees every shape a paired user can send, through the real bot.

Written as a paired physician or patient who leaks (on purpose or not) would: words
behind a slash that is no command, words around a token, a broken token, a photo whose
caption is a token, a map pin. In a paired chat whatever is left once the well-formed
tokens and the known commands are taken out is guarded: not relayed, not stored, the
sender told why, and deleted from the chat where the platform lets a bot delete
(Telegram; Twilio cannot remove a user's WhatsApp message).
"""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import select

from medcrypt.bot.domain import notices
from medcrypt.crypto.keyless import pdf_wrap
from medcrypt.crypto.keyless.wire import Direction, encode_file_header
from medcrypt.storage.models.audit import AuditEntry
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, Rig, until
from tests.support.tokens import message_token, now_epoch, pair

MARKER = "PLAINTEXT-MARKER-warfarin-5512"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 a photo of a prescription " + MARKER.encode()


def _deleted(rig: Rig, mid: int) -> bool:
    msg = rig.tg.user_message(PHYSICIAN_TG, mid)
    return msg is not None and msg.deleted


def _blocked_audits(rig: Rig) -> int:
    with rig.bot.sessions() as s:
        return list(s.scalars(select(AuditEntry.action))).count("relay.plaintext_blocked")


def _stored_nowhere(rig: Rig) -> None:
    wal = rig.db.with_name(rig.db.name + "-wal")
    for data in (rig.db.read_bytes(), wal.read_bytes() if wal.exists() else b"",
                 rig.tw.request_bytes()):
        assert MARKER.encode() not in data


async def _tg_reply(rig: Rig, before: int) -> str:
    sent = await rig.tg.wait_for_messages_async(PHYSICIAN_TG, before + 1, timeout=10)
    return sent[-1].text or ""


async def _wa_reply(rig: Rig, before: int) -> str:
    await rig.tw.wait_until_async(lambda: len(rig.tw.messages_to(PATIENT_WA)) > before,
                                  timeout=10)
    return rig.tw.messages_to(PATIENT_WA)[-1].body


async def test_words_behind_an_unknown_slash_are_guarded(rig: Rig) -> None:
    await pair(rig, os.urandom(16))
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    mid = rig.tg.user_sends_text(PHYSICIAN_TG, f"/inr was 4.2, halve the dose {MARKER}")
    reply = await _tg_reply(rig, n)
    await until(lambda: _deleted(rig, mid), timeout=5)
    assert reply.startswith("Not sent") and "/help" in reply
    # The same on WhatsApp, where the relay cannot delete: guarded, audited, explained.
    before = len(rig.tw.messages_to(PATIENT_WA))
    r = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, f"/bleeding since Monday {MARKER}")
    assert r.http_status == 200
    wa_reply = await _wa_reply(rig, before)
    assert wa_reply.startswith("Not sent") and wa_reply != notices.UNKNOWN_COMMAND
    assert "delete it yourself" in wa_reply
    assert _blocked_audits(rig) == 2
    _stored_nowhere(rig)


async def test_known_command_with_words_on_more_lines_is_guarded(rig: Rig) -> None:
    await pair(rig, os.urandom(16))
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    mid = rig.tg.user_sends_text(PHYSICIAN_TG, f"/status\nAnd my HbA1c is 9.1 {MARKER}")
    reply = await _tg_reply(rig, n)
    await until(lambda: _deleted(rig, mid), timeout=5)
    assert reply.startswith("Not sent")
    assert _blocked_audits(rig) == 1


async def test_token_with_plain_words_relays_the_token_and_guards_the_words(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    token = message_token(pid, Direction.PHYSICIAN_TO_PATIENT)
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    mid = rig.tg.user_sends_text(PHYSICIAN_TG, f"{token}\nTake two tablets tonight {MARKER}")
    await until(lambda: token in rig.wa_texts())
    reply = await _tg_reply(rig, n)
    await until(lambda: _deleted(rig, mid), timeout=5)
    assert reply.startswith(notices.WORDS_BLOCKED)
    assert _blocked_audits(rig) == 1
    assert not any(MARKER in t for t in rig.wa_texts())
    _stored_nowhere(rig)


async def test_malformed_and_v1_tokens_are_deleted_with_their_reason(rig: Rig) -> None:
    await pair(rig, os.urandom(16))
    cases = [(f"[MEDCRYPT:v2:bm90*YSB0b2tlbg] {MARKER}", notices.MALFORMED),
             ("[MEDCRYPT:v1:cGlk:bm9uY2U:Y3Q:dGFn]", notices.V1_REFUSED)]
    for text, reason in cases:
        n = len(rig.tg.messages_to(PHYSICIAN_TG))
        mid = rig.tg.user_sends_text(PHYSICIAN_TG, text)
        reply = await _tg_reply(rig, n)
        await until(lambda m=mid: _deleted(rig, m), timeout=5)
        assert reply.startswith(reason), reply
    assert _blocked_audits(rig) == 2
    _stored_nowhere(rig)


async def test_photo_with_a_token_caption_relays_the_token_and_deletes_the_photo(
        rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    token = message_token(pid, Direction.PHYSICIAN_TO_PATIENT)
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    mid = rig.tg.user_sends_photo(PHYSICIAN_TG, JPEG, caption=token)
    await until(lambda: token in rig.wa_texts())
    await until(lambda: _deleted(rig, mid), timeout=5)
    reply = await _tg_reply(rig, n)
    assert "photo" in reply and "companion" in reply
    assert not any(m.media for m in rig.tw.messages_to(PATIENT_WA))  # the photo went nowhere
    _stored_nowhere(rig)


async def test_whatsapp_photo_with_a_token_body_relays_the_token_only(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    token = message_token(pid, Direction.PATIENT_TO_PHYSICIAN)
    before = len(rig.tw.messages_to(PATIENT_WA))
    r = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, token, media=[(JPEG, "image/jpeg")])
    assert r.http_status == 200
    await until(lambda: token in rig.tg_texts(PHYSICIAN_TG))
    reply = await _wa_reply(rig, before)
    assert "photo" in reply and "delete it yourself" in reply
    assert not [m for m in rig.tg.messages_to(PHYSICIAN_TG) if m.document]
    _stored_nowhere(rig)


async def test_a_location_is_deleted_with_an_explanation(rig: Rig) -> None:
    await pair(rig, os.urandom(16))
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    mid = rig.tg.user_sends_location(PHYSICIAN_TG, 19.4326, -99.1332)
    reply = await _tg_reply(rig, n)
    await until(lambda: _deleted(rig, mid), timeout=5)
    assert "location" in reply.lower() and "removed" in reply
    before = len(rig.tw.messages_to(PATIENT_WA))
    r = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, location=(19.4326, -99.1332))
    assert r.http_status == 200
    wa_reply = await _wa_reply(rig, before)
    assert "location" in wa_reply.lower() and "delete it yourself" in wa_reply
    await asyncio.sleep(0.3)
    assert len(rig.tg.messages_to(PHYSICIAN_TG)) == n + 1  # nothing reached the physician
    assert _blocked_audits(rig) == 2
    wal = rig.db.with_name(rig.db.name + "-wal")
    for data in (rig.db.read_bytes(), wal.read_bytes() if wal.exists() else b""):
        assert b"19.43" not in data and b"99.13" not in data


async def test_a_captioned_file_relays_the_file_and_guards_the_words(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    blob = encode_file_header(pid, now_epoch(), Direction.PHYSICIAN_TO_PATIENT,
                              os.urandom(16)) + os.urandom(3000)
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    mid = rig.tg.user_sends_document(PHYSICIAN_TG, "lab.mcf", blob,
                                     caption=f"Your labs: potassium 6.1 {MARKER}")
    await rig.tw.wait_until_async(lambda: any(
        m.media and m.media[0].data == pdf_wrap.wrap(blob)  # in a PDF (ADR 0023)
        for m in rig.tw.messages_to(PATIENT_WA)), 10)
    reply = await _tg_reply(rig, n)
    await until(lambda: _deleted(rig, mid), timeout=5)
    assert reply.startswith(notices.WORDS_BLOCKED)
    # An unencrypted file with words: one notice for the message, one audit entry.
    rig.tg.user_sends_document(PHYSICIAN_TG, "lab.pdf", b"%PDF-1.7 " + MARKER.encode(),
                               caption=f"see attached {MARKER}")
    reply = await _tg_reply(rig, n + 1)
    assert reply.startswith(notices.NOT_ENCRYPTED_FILE)
    await asyncio.sleep(0.5)
    assert len(rig.tg.messages_to(PHYSICIAN_TG)) == n + 2
    assert _blocked_audits(rig) == 2
    _stored_nowhere(rig)


async def test_a_token_edited_into_words_is_deleted_and_nothing_is_relayed_again(
        rig: Rig) -> None:
    """The attack: send a token (relayed), then edit the message into plain words. The
    bot asked Telegram for ``message`` updates only, so the edit never reached the guard
    and the words stayed in the chat. Guard rule 8: an edit is guarded as a whole."""
    pid = os.urandom(16)
    await pair(rig, pid)
    token = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, index=0)
    mid = rig.tg.user_sends_text(PHYSICIAN_TG, token)
    await until(lambda: token in rig.wa_texts(), timeout=10)
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    rig.tg.user_edits_text(PHYSICIAN_TG, mid, "her HbA1c is 9.1, double the metformin")
    reply = await _tg_reply(rig, n)
    await until(lambda: _deleted(rig, mid), timeout=5)
    assert reply.startswith(notices.EDIT_BLOCKED) and "removed" in reply
    # An edit that keeps a token relays nothing again: the message was handled once.
    second = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, index=1)
    mid2 = rig.tg.user_sends_text(PHYSICIAN_TG, second)
    await until(lambda: second in rig.wa_texts(), timeout=10)
    relayed = len(rig.wa_texts())
    third = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, index=2)
    rig.tg.user_edits_text(PHYSICIAN_TG, mid2, third)
    await until(lambda: _deleted(rig, mid2), timeout=5)
    await asyncio.sleep(0.3)
    assert len(rig.wa_texts()) == relayed and third not in rig.wa_texts()
    _stored_nowhere(rig)
