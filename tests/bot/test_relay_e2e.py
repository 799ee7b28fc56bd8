"""End to end through both fakes: pairing, relay both ways, re-split, attachments."""

from __future__ import annotations

import os

from sqlalchemy import select

from medcrypt.crypto.keyless import pdf_wrap
from medcrypt.crypto.keyless.parts import join_parts, split_token
from medcrypt.crypto.keyless.wire import (
    FILE_VERSION_PADDED,
    FILE_VERSION_UNPADDED,
    Direction,
    encode_file_header,
    find_tokens,
    parse_token,
)
from medcrypt.storage.models.pairings import Pairing
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, Rig
from tests.support.tokens import message_token, now_epoch, pair


def tokens_in(texts: list[str | None]) -> list[str]:
    return [t for text in texts if text for t in find_tokens(text)]


def wa_bodies(rig: Rig) -> list[str]:
    return [m.body for m in rig.tw.messages_to(PATIENT_WA)]


async def test_pairing_records_consent_and_relays_accept(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    texts = [m.text for m in rig.tg.messages_to(PHYSICIAN_TG)]
    assert any(t and t.startswith("[MEDCRYPT:v2:") for t in texts)
    with rig.bot.sessions() as s:
        row = s.scalar(select(Pairing))
        assert row is not None and row.status == "active"
        assert row.consent_at is not None and row.consent_channel == "whatsapp"
        assert row.consent_notice_version
    await rig.tw.wait_until_async(lambda: any("can see" in b for b in wa_bodies(rig)))


async def test_relay_both_ways_with_resplit_for_whatsapp(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    # Physician → patient: 3000 characters fit Telegram (4096) but not WhatsApp (1600).
    long_token = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, body_len=2200)
    assert 1600 < len(long_token) <= 4096
    rig.tg.user_sends_text(PHYSICIAN_TG, long_token)

    def parts_arrived() -> bool:
        found = [t for t in tokens_in(list(wa_bodies(rig)))
                 if parse_token(t).header.kind.name == "PART"]
        return len(found) >= 2

    await rig.tw.wait_until_async(parts_arrived, timeout=10)
    parts = [t for t in tokens_in(wa_bodies(rig)) if parse_token(t).header.kind.name == "PART"]
    assert all(len(p) <= 1600 for p in parts)
    assert join_parts(parts) == long_token

    # Patient → physician: a token too long for WhatsApp arrives as parts, joined once.
    big = message_token(pid, Direction.PATIENT_TO_PHYSICIAN, body_len=2500)
    before = len(rig.tg.messages_to(PHYSICIAN_TG))
    for part in split_token(big, 1600):
        r = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, part)
        assert r.http_status == 200
    sent = await rig.tg.wait_for_messages_async(PHYSICIAN_TG, before + 1, timeout=10)
    assert sent[-1].text == big


async def test_attachment_both_platforms(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    # The padded container (MCF3) writers write now; the way back an older MCF2 one.
    blob = encode_file_header(pid, now_epoch(), Direction.PHYSICIAN_TO_PATIENT,
                              os.urandom(16), version=FILE_VERSION_PADDED) + os.urandom(5000)
    rig.tg.user_sends_document(PHYSICIAN_TG, "lab.mcf", blob)

    def media_fetched() -> bool:
        return any(m.media and m.media[0].status == 200 for m in rig.tw.messages_to(PATIENT_WA))

    await rig.tw.wait_until_async(media_fetched, timeout=10)
    msg = next(m for m in rig.tw.messages_to(PATIENT_WA) if m.media)
    assert pdf_wrap.unwrap(msg.media[0].data) == blob  # carried in a PDF (ADR 0023)

    back = encode_file_header(pid, now_epoch(), Direction.PATIENT_TO_PHYSICIAN,
                              os.urandom(16), version=FILE_VERSION_UNPADDED) + os.urandom(3000)
    before = len(rig.tg.messages_to(PHYSICIAN_TG))
    r = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, "",
                                               media=[(back, "application/octet-stream")])
    assert r.http_status == 200
    sent = await rig.tg.wait_for_messages_async(PHYSICIAN_TG, before + 1, timeout=10)
    assert sent[-1].document == back
