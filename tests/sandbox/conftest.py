"""Fixtures: a fake Telegram and a fake Twilio running in the test's own event loop."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from bot.sandbox import FakeTelegram


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


def free_port() -> int:
    """A loopback port nobody listens on right now (for the bot's webhook server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
