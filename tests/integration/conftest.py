"""The integration suite's rig: the real bot with everything of the live bot switched on.

As the break-glass rig (two config admins, escrow key, a movable clock shared by the
bot and the companions' protocol sessions, real companion sessions), plus an audit
checkpoint signing key with a small checkpoint interval, and fast maintenance ticks,
so the scheduler, the witness posts and the lifecycle commands all run as in
production. Months pass by moving the clock and running the job functions as of the
new instant (tests/support/rigs.py: ``run_jobs_at``).
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.clocks import MovableClock
from tests.support.conversation import make_escrow
from tests.support.rigs import ADMIN_A, ADMIN_B, START, Rig, live_bot

SIGNING_ENV = "MEDCRYPT_AUDIT_SIGNING_KEY"


@pytest.fixture
def checkpoint_every() -> int:
    return 1000


@pytest.fixture
async def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               checkpoint_every: int) -> AsyncIterator[Rig]:
    async with live_bot(tmp_path, clock=MovableClock(START), escrow=make_escrow(),
                        environ={SIGNING_ENV: base64.b64encode(os.urandom(32)).decode()},
                        export_env=monkeypatch, checkpoint_every_seconds=0.2,
                        clinic={"admin_telegram_ids": [ADMIN_A, ADMIN_B]},
                        audit={"checkpoint_every_entries": checkpoint_every,
                               "post_checkpoints_to_admins": True}) as running:
        yield running
