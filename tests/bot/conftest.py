"""The bot suite's rig: the real bot between the loopback fakes, one admin configured.

Tokens are built with the keyless wire codec (tests/support/tokens.py): the bot only
reads headers, so random ciphertext is indistinguishable from real here.
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
