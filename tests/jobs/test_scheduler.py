"""APScheduler really running in an event loop: persistent store, interval sweep, catch-up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from medcrypt.bot.domain.lifecycle.runs import last_runs
from medcrypt.bot.scheduler.runner import next_runs, start_scheduler, stop_scheduler
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.storage.models.jobs import JobRun, ScheduledJob
from tests.support.jobs import add_pairing, context, epoch_rows, notices_for

NOV30 = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
DEC3 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


async def _wait_for(ctx, predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        with ctx.sessions() as s:
            runs = s.execute(select(JobRun.job, JobRun.trigger, JobRun.outcome)
                             .order_by(JobRun.id)).all()
        if predicate(runs):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"scheduler did not get there in {timeout}s: {runs}")


async def test_scheduler_runs_sweeps_and_catches_up_after_downtime(sqlite_url: str) -> None:
    clock = FixedClock(NOV30)
    with context(sqlite_url, clock) as ctx:
        p = add_pairing(ctx, start_epoch=epoch_of(NOV30), at=NOV30)
        scheduler = start_scheduler(ctx, context_key="t1", sweep_interval_seconds=0.3)
        try:
            # The catch-up rotates, then sweeps. Its sweep finds the job lock taken (and is
            # skipped as busy) when the 0.3 s interval sweep fired during the rotation, as
            # under CI load: either way a sweep runs after the start-up rotation.
            await _wait_for(ctx, lambda runs: ("rotation", "startup", "ok") in runs
                            and ("key_epoch", "startup", "ok") in runs
                            and any(job == "shred_sweep" and outcome == "ok" for job, _t, outcome
                                    in runs[runs.index(("rotation", "startup", "ok")) + 1:])
                            and sum(1 for r in runs if r == ("shred_sweep", "schedule", "ok")) >= 2)
        finally:
            stop_scheduler(scheduler, context_key="t1")
        with ctx.engine.connect() as conn:
            stored = {r[0] for r in conn.execute(select(ScheduledJob.id))}
        # persisted; the catch-up one is not
        assert stored == {"rotation", "shred_sweep", "key_epoch"}
        nxt = next_runs(ctx, NOV30)
        assert nxt["rotation"][1] and nxt["rotation"][0] is not None
        assert nxt["rotation"][0].day == 1 and nxt["rotation"][0].hour == 0
        with ctx.sessions() as s:
            assert [e for _p, e, _st in epoch_rows(s, p.pairing_id)] == [epoch_of(NOV30)]
        # The bot is down across midnight on the 1st and starts again on the 3rd.
        clock.set(DEC3)
        scheduler = start_scheduler(ctx, context_key="t2", sweep_interval_seconds=60)
        try:
            await _wait_for(ctx, lambda runs: sum(
                1 for r in runs if r == ("rotation", "startup", "ok")) >= 2)
        finally:
            stop_scheduler(scheduler, context_key="t2")
        with ctx.sessions() as s:
            assert epoch_rows(s, p.pairing_id) == [
                (p.pairing_id, epoch_of(NOV30), "retired"),
                (p.pairing_id, epoch_of(DEC3), "active")]
            assert len(notices_for(s, p.patient_id)) == 1
        last = last_runs(ctx)
        assert last["rotation"].outcome == "ok"
        assert last["rotation"].summary["epochs_created"] == 1
        assert last["rotation"].as_of == DEC3
