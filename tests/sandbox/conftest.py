"""Fixtures: a fake Telegram and a fake Twilio running in the test's own event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from medcrypt.sandbox import FakeTelegram, FakeTwilio
from tests.support.receiver import BotReceiver


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def tw() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        yield fake


@pytest.fixture
async def receiver(tw: FakeTwilio) -> AsyncIterator[BotReceiver]:
    async with BotReceiver(tw.auth_token) as rec:
        tw.webhook_url = rec.url + "/whatsapp/inbound"
        yield rec


@pytest.fixture
async def client(tw: FakeTwilio) -> AsyncIterator[Client]:
    """The real twilio Client, async transport, pointed at the fake."""
    http = AsyncTwilioHttpClient()
    twilio_client = Client(tw.account_sid, tw.auth_token, http_client=http)
    twilio_client.api.base_url = tw.api_base_url
    yield twilio_client
    await http.close()
