"""The real bot between the loopback fakes, with everything of the live bot switched on.

Like tests/breakglass/conftest.py (two config admins, escrow key, a movable clock shared
by the bot and the companions' protocol sessions, real companion sessions), plus an
audit checkpoint signing key with a small checkpoint interval, and fast maintenance
ticks, so the scheduler, the witness posts and the lifecycle commands all run as in
production. Months pass by moving the clock and running the job functions as of the
new instant (what ``medcrypt-bot jobs run ... --now`` does).
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from medcrypt.bot.app.bot import BotApp
from medcrypt.bot.cli.escrow import public_key_text
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.lifecycle.runs import run_job
from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from tests.bot.conftest import (
    environ_for,
    free_port,
    sandbox_platforms,
    sandbox_settings,
)
from tests.breakglass.conftest import ADMIN_A, ADMIN_B, START, Rig
from tests.breakglass.helpers import MovableClock, make_escrow

SIGNING_ENV = "MEDCRYPT_AUDIT_SIGNING_KEY"


def settings_for(tg: FakeTelegram, tw: FakeTwilio, port: int, db: Path, escrow_public: bytes,
                 checkpoint_every: int) -> Any:
    return parse_settings(sandbox_settings(
        tg, tw, port, db,
        clinic={"admin_telegram_ids": [ADMIN_A, ADMIN_B],
                "escrow_public_key": public_key_text(escrow_public)},
        audit={"checkpoint_every_entries": checkpoint_every,
               "post_checkpoints_to_admins": True}))


@pytest.fixture
def checkpoint_every() -> int:
    return 1000


@pytest.fixture
async def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               checkpoint_every: int) -> AsyncIterator[Rig]:
    escrow = make_escrow()
    clock = MovableClock(START)
    port = free_port()
    async with sandbox_platforms(port) as (tg, tw):
        db = tmp_path / "bot.db"
        env = environ_for(tg, tw)
        env[SIGNING_ENV] = base64.b64encode(os.urandom(32)).decode()
        for key, value in env.items():  # the CLI commands read the process env
            monkeypatch.setenv(key, value)
        config = tmp_path / "bot.toml"
        config.write_text(f'[database]\nurl = "sqlite:///{db}"\n')
        app = BotApp(settings_for(tg, tw, port, db, escrow.public, checkpoint_every),
                     environ=env, clock=clock)
        app.checkpoint_every_seconds = 0.2
        await app.start()
        try:
            yield Rig(tg, tw, app, db, env, clock, escrow, config)
        finally:
            await app.stop()


async def run_jobs_at(rig: Rig, at: datetime, *jobs: str) -> list[dict[str, Any]]:
    """Move the clock to ``at`` and run the named jobs as of then, off the event loop."""
    rig.clock.set(at)
    out = []
    for job in jobs:
        outcome = await asyncio.to_thread(run_job, rig.bot.services, job, trigger="manual",
                                          now=at)
        out.append(dict(outcome.summary))
    rig.bot.worker.wake()
    return out
