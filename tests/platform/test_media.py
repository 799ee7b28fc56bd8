"""Attachments through the sandbox: inbound media that cannot be fetched, platform file
limits, and the content type WhatsApp is sent."""

from __future__ import annotations

import os

from sqlalchemy import func, select

from medcrypt.bot.domain import notices
from medcrypt.storage.models.inbound import InboundKey
from medcrypt.storage.models.media import MediaBlob
from tests.support.rigs import PATIENT_WA, Rig
from tests.support.tokens import pair


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
