"""Webhook authenticity: forged, replayed or unsigned Twilio posts change nothing (403);
Telegram webhook posts without the secret token are refused."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import httpx
from sqlalchemy import func, select

from medcrypt.bot.app.bot import BotApp
from medcrypt.bot.domain.config import parse_settings
from medcrypt.sandbox import FakeTelegram
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.inbound import InboundKey
from medcrypt.storage.models.outbox import OutboxMessage
from tests.support.ports import worker_port
from tests.support.rigs import PATIENT_WA, Rig


def snapshot(rig: Rig) -> tuple[int, int, int]:
    with rig.bot.sessions() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (PlatformIdentity, InboundKey, OutboxMessage))


async def test_forged_unsigned_and_wrong_url_signatures_get_403(rig: Rig) -> None:
    before = snapshot(rig)
    for mode in ("forged", "missing"):
        r = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, "/start", signature=mode)
        assert r.http_status == 403, mode
    # Signed correctly, but for another URL (what a proxy-trusting bot would accept).
    r = await rig.tw.user_sends_whatsapp_async(
        PATIENT_WA, "/start", sign_url="http://evil.example/twilio/inbound")
    assert r.http_status == 403
    assert snapshot(rig) == before


async def test_replayed_webhook_gets_403_and_changes_nothing(rig: Rig) -> None:
    first = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, "/admins")  # refused + audited
    assert first.http_status == 200
    await rig.tw.wait_until_async(lambda: len(rig.tw.messages_to(PATIENT_WA)) >= 1)
    before = snapshot(rig)
    again = await rig.tw.replay_async(first)
    assert again.http_status == 403
    assert snapshot(rig) == before


async def test_forged_status_callback_gets_403(rig: Rig) -> None:
    url = rig.bot.settings.whatsapp.public_url + rig.bot.settings.whatsapp.status_path
    async with httpx.AsyncClient() as client:
        resp = await client.post(url, data={"MessageSid": "SM" + "0" * 32,
                                            "MessageStatus": "delivered"},
                                 headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    assert resp.status_code == 403


async def test_media_urls_are_unguessable_and_unknown_names_404(rig: Rig) -> None:
    url = rig.bot.settings.whatsapp.public_url + rig.bot.settings.whatsapp.media_path
    async with httpx.AsyncClient() as client:
        resp = await client.get(f"{url}/{base64.urlsafe_b64encode(os.urandom(32)).decode()}")
    assert resp.status_code == 404


async def test_telegram_webhook_without_secret_is_rejected(tmp_path: Path) -> None:
    port = worker_port()
    async with FakeTelegram() as tg:
        settings = parse_settings({
            "database": {"url": f"sqlite:///{tmp_path / 'w.db'}"},
            "telegram": {"api_base_url": tg.base_url, "api_file_url": tg.base_file_url,
                         "mode": "webhook", "webhook_url": f"https://127.0.0.1:{port}/telegram",
                         "listen_port": port, "request_timeout_seconds": 2.0},
            "whatsapp": {"enabled": False},
            "monitoring": {"listen_port": 0},
        })
        env = {"MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
               "TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_WEBHOOK_SECRET": "s3cret-Token_1"}
        bot = BotApp(settings, environ=env)
        await bot.start()
        try:
            update = {"update_id": 1, "message": {
                "message_id": 1, "date": 0, "chat": {"id": 42, "type": "private"},
                "from": {"id": 42, "is_bot": False, "first_name": "X"}, "text": "/start"}}
            local = f"http://127.0.0.1:{port}/telegram"
            async with httpx.AsyncClient() as client:
                missing = await client.post(local, json=update)
                wrong = await client.post(local, json=update, headers={
                    "X-Telegram-Bot-Api-Secret-Token": "wrong"})
                right = await client.post(local, json=update, headers={
                    "X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"})
            assert missing.status_code == 403
            assert wrong.status_code == 403
            assert right.status_code == 200
            assert tg.webhook.url == f"https://127.0.0.1:{port}/telegram"
        finally:
            await bot.stop()
