"""The WhatsApp sender's own bounds against the fake Twilio: a hanging platform is a
retryable network failure within ``request_timeout_seconds``, and a healthy one answers
with the message SID (the real twilio client, its aiohttp session reused)."""

from __future__ import annotations

import time

import pytest

from medcrypt.bot.outbox.errors import Transient
from medcrypt.sandbox import FakeTwilio, Faults
from tests.support.scheduling import TIMING_GATE
from tests.support.whatsapp import sender_for, token_delivery


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


@TIMING_GATE
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
