"""The platform suite's rig: the real bot between the loopback fakes, one admin configured.

The fakes follow the Bot API and Twilio documentation where the bot can observe a
difference (length limits, 403 for users who never started the bot, media types), so
each test here drives the bot the way the real platform would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.rigs import ADMIN_A, Rig, live_bot


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with live_bot(tmp_path, clinic={"admin_telegram_ids": [ADMIN_A]}) as running:
        yield running
