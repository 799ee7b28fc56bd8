"""A file whose caption (Telegram) or Body (WhatsApp) is its manifest token: the file
and its manifest travel together, or neither does and the sender is told."""

from __future__ import annotations

import asyncio
import os

from medcrypt.bot.domain import notices
from medcrypt.crypto.keyless import pdf_wrap
from medcrypt.crypto.keyless.wire import Direction, encode_file_header
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, Rig, until
from tests.support.tokens import message_token, now_epoch, pair

MB = 1024 * 1024


def _container(pid: bytes, direction: Direction, size: int = 4000) -> bytes:
    return encode_file_header(pid, now_epoch(), direction, os.urandom(16)) + os.urandom(size)


async def test_telegram_file_with_its_manifest_as_caption_relays_both(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    blob = _container(pid, Direction.PHYSICIAN_TO_PATIENT)
    manifest = message_token(pid, Direction.PHYSICIAN_TO_PATIENT)
    mid = rig.tg.user_sends_document(PHYSICIAN_TG, "3f9a.mcf", blob, caption=manifest)
    await until(lambda: manifest in rig.wa_texts(), timeout=10)
    await until(lambda: any(m.media and m.media[0].data == pdf_wrap.wrap(blob)
                            for m in rig.tw.messages_to(PATIENT_WA)), timeout=10)
    msg = rig.tg.user_message(PHYSICIAN_TG, mid)
    assert msg is not None and not msg.deleted  # nothing in it was plaintext


async def test_whatsapp_file_with_its_manifest_as_body_relays_both(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    blob = _container(pid, Direction.PATIENT_TO_PHYSICIAN)
    manifest = message_token(pid, Direction.PATIENT_TO_PHYSICIAN)
    r = await rig.tw.user_sends_whatsapp_async(
        PATIENT_WA, manifest, media=[(blob, "application/octet-stream")])
    assert r.http_status == 200
    await until(lambda: manifest in rig.tg_texts(PHYSICIAN_TG), timeout=10)
    await until(lambda: any(m.document == blob for m in rig.tg.messages_to(PHYSICIAN_TG)),
                timeout=10)


async def test_a_refused_file_does_not_send_its_manifest_alone(rig: Rig) -> None:
    """18 MB is too large for the patient's WhatsApp: the file is refused and the sender
    told so; its manifest, useless without it, does not go either."""
    pid = os.urandom(16)
    await pair(rig, pid)
    blob = _container(pid, Direction.PHYSICIAN_TO_PATIENT, 18 * MB)
    manifest = message_token(pid, Direction.PHYSICIAN_TO_PATIENT)
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    rig.tg.user_sends_document(PHYSICIAN_TG, "3f9a.mcf", blob, caption=manifest)
    await rig.tg.wait_for_messages_async(PHYSICIAN_TG, n + 1, timeout=10)
    told = rig.tg_texts(PHYSICIAN_TG)[-1]
    assert told.startswith("Not sent: the file is larger than 16 MB"), told
    assert notices.CAPTION_NOT_SENT in told
    await asyncio.sleep(0.5)
    assert manifest not in rig.wa_texts()
