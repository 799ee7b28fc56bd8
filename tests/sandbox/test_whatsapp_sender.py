"""The WhatsApp sender's own bounds against the fake Twilio: a hanging platform is a
retryable network failure within ``request_timeout_seconds``, and a healthy one answers
with the message SID (the real twilio client, its aiohttp session reused)."""

from __future__ import annotations

import time

import pytest

from medcrypt.bot.adapters.whatsapp import WhatsAppSender
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.messages import Platform
from medcrypt.bot.domain.sender import Delivery
from medcrypt.bot.outbox.errors import Transient
from medcrypt.sandbox import FakeTwilio, Faults


def sender_for(tw: FakeTwilio, timeout: float) -> WhatsAppSender:
    settings = parse_settings({
        "whatsapp": {"api_base_url": tw.api_base_url, "request_timeout_seconds": timeout,
                     "global_messages_per_second": 0.0},
        "relay": {"outbox_lease_seconds": 30.0},
    })
    return WhatsAppSender(settings, tw.account_sid, tw.auth_token, tw.whatsapp_from)


def token_delivery(row: int, to: str = "whatsapp:+15550003333") -> Delivery:
    return Delivery(row_id=row, platform=Platform.WHATSAPP, address=to, kind="token",
                    body=f"[MEDCRYPT:v2:test{row}]")


async def test_sends_reuse_one_client(tw: FakeTwilio) -> None:
    tw.open_window("+15550003333")
    sender = sender_for(tw, 5.0)
    try:
        sids = [await sender.send(token_delivery(i)) for i in range(3)]
        http = sender._http
        assert http is not None
        assert await sender.send(token_delivery(3)) and sender._http is http  # reused
    finally:
        await sender.close()
    assert all(s.startswith("SM") for s in sids) and len(set(sids)) == 3
    assert [m.body for m in tw.messages_to("+15550003333")] == [
        f"[MEDCRYPT:v2:test{i}]" for i in range(4)]


async def test_hanging_platform_is_transient_within_the_timeout(tw: FakeTwilio) -> None:
    tw.open_window("+15550003333")
    tw.faults = Faults(timeout_rate=1.0, hang_seconds=5,
                       methods=frozenset({"Messages.create"}))
    sender = sender_for(tw, 0.3)
    start = time.monotonic()
    try:
        with pytest.raises(Transient) as caught:
            await sender.send(token_delivery(1))
    finally:
        await sender.close()
    assert caught.value.code == "tw-network"
    assert time.monotonic() - start < 3.0
    assert tw.messages_to("+15550003333") == []
