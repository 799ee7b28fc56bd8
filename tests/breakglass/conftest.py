"""The break-glass suite's rig: the real bot with break-glass switched on.

Two config admins (A and B) on Telegram, the clinic escrow public key configured, a
movable clock shared by the bot and the companions' protocol sessions (so months can
pass). The break-glass commands are in the bot's production command registry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.clocks import MovableClock
from tests.support.conversation import make_escrow
from tests.support.rigs import ADMIN_A, ADMIN_B, START, Rig, live_bot


@pytest.fixture
def window_minutes() -> int:
    return 60


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              window_minutes: int) -> AsyncIterator[Rig]:
    async with live_bot(tmp_path, clock=MovableClock(START), escrow=make_escrow(),
                        export_env=monkeypatch,
                        clinic={"admin_telegram_ids": [ADMIN_A, ADMIN_B]},
                        breakglass={"approval_window_minutes": window_minutes}) as running:
        yield running
