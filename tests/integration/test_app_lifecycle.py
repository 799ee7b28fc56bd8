"""BotApp starts and stops the scheduler and the maintenance loop, audited."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlalchemy import select

from medcrypt.crypto.server.audit import Action
from medcrypt.storage.models.audit import AuditEntry
from medcrypt.storage.models.breakglass import BreakGlassRequest
from medcrypt.storage.models.jobs import JobRun, ScheduledJob
from tests.support.conversation import pair, say
from tests.support.rigs import ADMIN_A, Rig, until


def _actions(rig: Rig) -> list[str]:
    with rig.bot.sessions() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


async def test_scheduler_runs_catch_up_and_stops_with_the_bot(live: Rig) -> None:
    def startup_runs() -> set[str]:
        with live.bot.sessions() as s:
            return set(s.scalars(select(JobRun.job).where(JobRun.trigger == "startup",
                                                          JobRun.outcome == "ok")))

    await until(lambda: startup_runs() == {"rotation", "shred_sweep", "key_epoch"})
    with live.bot.engine.connect() as conn:
        stored = set(conn.scalars(select(ScheduledJob.id)))
    assert {"rotation", "shred_sweep", "key_epoch"} <= stored  # persistent store in the bot's db
    scheduler = live.bot._scheduler
    assert scheduler is not None and scheduler.running
    assert _actions(live)[0] == Action.BOT_STARTED.value
    await live.bot.stop()
    assert not scheduler.running
    # The stop is logged, then signed: a tail left open would fail `audit verify` once
    # older than the checkpoint interval, as a log cut back to it does. The checkpointer
    # signs the stop entry itself (ADR 0036: no checkpoint entry when one is unsigned).
    assert _actions(live)[-1] == Action.BOT_STOPPED.value
    head = live.bot.services.audit.head()
    assert head.last_checkpoint is not None and head.last_checkpoint.seq == head.seq
    await live.bot.stop()  # idempotent: the fixture stops it again
    assert _actions(live).count(Action.BOT_STOPPED.value) == 1


async def test_maintenance_expires_break_glass_requests(live: Rig) -> None:
    conv = await pair(live)
    await say(live, conv, "physician", "Routine check.")
    reply = await live.tg_says(ADMIN_A, f"/breakglass {conv.pairing_id.hex()[:12]} unconscious",
                               expect="opened")
    code = re.search(r"request ([0-9a-f]{10}) opened", reply)
    assert code, reply

    def status() -> str | None:
        with live.bot.sessions() as s:
            return s.scalar(select(BreakGlassRequest.status).where(
                BreakGlassRequest.code == code.group(1)))

    await asyncio.sleep(0.5)
    assert status() == "pending"
    live.clock.set(live.clock.now() + timedelta(minutes=61))
    await until(lambda: status() == "expired")
    assert Action.BREAKGLASS_DENIED.value in _actions(live)
