"""Attachments through the sandbox: inbound media that cannot be fetched, platform file
limits, and the content type WhatsApp is sent."""

from __future__ import annotations

import os

from sqlalchemy import func, select

from medcrypt.bot.domain import notices
from medcrypt.crypto.keyless import pdf_wrap
from medcrypt.crypto.keyless.wire import Direction, encode_file_header
from medcrypt.storage.models.inbound import InboundKey
from medcrypt.storage.models.media import MediaBlob
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, Rig, until
from tests.support.tokens import now_epoch, pair


def _count(rig: Rig, model: type) -> int:
    with rig.bot.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


async def test_whatsapp_media_that_answers_404_is_told_to_the_sender(rig: Rig) -> None:
    await pair(rig, os.urandom(16))
    keys, blobs = _count(rig, InboundKey), _count(rig, MediaBlob)
    result = await rig.tw.user_sends_whatsapp_async(
        PATIENT_WA, "", media=[(os.urandom(2048), "application/octet-stream")],
        media_gone=True)
    # Not a server error: Twilio logs 5xx as 11200 and the message would simply be lost.
    assert result.http_status == 200, result
    told = result.response_body + "\n".join(rig.wa_texts())
    assert notices.MEDIA_UNAVAILABLE in told.replace("&#x27;", "'").replace("&apos;", "'")
    # Nothing half-stored: no idempotency key (a resend is handled afresh), no blob.
    assert _count(rig, InboundKey) == keys
    assert _count(rig, MediaBlob) == blobs


MB = 1024 * 1024


async def test_telegram_file_over_the_bot_download_limit_names_that_limit(rig: Rig) -> None:
    """Bots can fetch at most 20 MB from Telegram (getFile answers "file is too big"): a
    25 MB file is refused with that limit, not the relay's own 50 MB."""
    pid = os.urandom(16)
    await pair(rig, pid)
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    blob = encode_file_header(pid, now_epoch(), Direction.PHYSICIAN_TO_PATIENT,
                              os.urandom(16)) + bytes(25 * MB)
    rig.tg.user_sends_document(PHYSICIAN_TG, "scan.mcf", blob)
    await rig.tg.wait_for_messages_async(PHYSICIAN_TG, n + 1, timeout=10)
    text = rig.tg_texts(PHYSICIAN_TG)[-1]
    assert text.startswith("Not sent: the file is larger than 20 MB"), text
    assert "Telegram" in text


async def test_file_too_large_for_the_recipients_whatsapp_names_its_limit(rig: Rig) -> None:
    """18 MB fits Telegram's 20 MB but not WhatsApp's 16 MB: refused at once, naming
    WhatsApp's limit, instead of failing later at Twilio with a vague delivery error."""
    pid = os.urandom(16)
    await pair(rig, pid)
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    blob = encode_file_header(pid, now_epoch(), Direction.PHYSICIAN_TO_PATIENT,
                              os.urandom(16)) + bytes(18 * MB)
    rig.tg.user_sends_document(PHYSICIAN_TG, "scan.mcf", blob)
    await rig.tg.wait_for_messages_async(PHYSICIAN_TG, n + 1, timeout=10)
    text = rig.tg_texts(PHYSICIAN_TG)[-1]
    assert text.startswith("Not sent: the file is larger than 16 MB"), text
    assert "WhatsApp" in text
    assert _count(rig, MediaBlob) == 0
    assert not [m for m in rig.tw.messages_to(PATIENT_WA) if m.media_urls]


async def test_file_to_whatsapp_is_delivered_in_a_documented_media_type(rig: Rig) -> None:
    """The sandbox refuses what Twilio refuses for WhatsApp (octet-stream; a type whose
    bytes do not match). The bot serves the encrypted file inside a PDF, which Twilio
    documents for WhatsApp, and the container comes back out byte for byte."""
    pid = os.urandom(16)
    await pair(rig, pid)
    blob = encode_file_header(pid, now_epoch(), Direction.PHYSICIAN_TO_PATIENT,
                              os.urandom(16)) + os.urandom(70_000)
    rig.tg.user_sends_document(PHYSICIAN_TG, "lab.mcf", blob)

    def settled() -> list[str]:
        return [m.status for m in rig.tw.messages_to(PATIENT_WA) if m.media_urls
                and m.status in ("delivered", "failed", "undelivered")]

    await until(settled, timeout=10)
    msg = next(m for m in rig.tw.messages_to(PATIENT_WA) if m.media_urls)
    assert msg.status == "delivered", (msg.error_code, msg.media[0].error)
    fetched = msg.media[0]
    assert fetched.content_type is not None
    assert fetched.content_type.split(";")[0] == pdf_wrap.CONTENT_TYPE
    assert pdf_wrap.unwrap(fetched.data) == blob


async def test_a_file_that_fits_16_mb_only_without_its_wrapper_is_refused(rig: Rig) -> None:
    """WhatsApp's 16 MB holds the PDF wrapper too: a container 500 bytes under the limit
    would reach Twilio over it, and is refused naming WhatsApp's limit instead."""
    pid = os.urandom(16)
    await pair(rig, pid)
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    header = encode_file_header(pid, now_epoch(), Direction.PHYSICIAN_TO_PATIENT,
                                os.urandom(16))
    blob = header + bytes(16_000_000 - 500 - len(header))
    rig.tg.user_sends_document(PHYSICIAN_TG, "scan.mcf", blob)
    await rig.tg.wait_for_messages_async(PHYSICIAN_TG, n + 1, timeout=10)
    assert rig.tg_texts(PHYSICIAN_TG)[-1].startswith(
        "Not sent: the file is larger than 16 MB")
