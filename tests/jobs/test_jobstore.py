"""The scheduler's job store holds data only and runs nothing but the bot's own jobs.

A row written by someone who can write the database - naming another function, or
malformed - must be refused with a clear error, never imported, never executed, and
must not stop the real jobs from running.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import insert, select
from structlog.testing import capture_logs

from medcrypt.bot.scheduler import runner as sched
from medcrypt.bot.scheduler.runner import (
    JOB_FUNCTIONS,
    ROTATION_MISFIRE,
    rotation_trigger,
    scheduled,
    start_scheduler,
    stop_scheduler,
)
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.errors import StorageError
from medcrypt.storage.jobstore import JOBS, DataJobStore, stored_next_run_times
from medcrypt.storage.models.jobs import JobRun
from medcrypt.storage.triggerspec import trigger_spec
from tests.support.jobs import context

NOV30 = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
PAST = datetime(2026, 1, 1, tzinfo=UTC)


def _interval_spec() -> str:
    return json.dumps({"type": "interval", "seconds": 1.0, "start_date": PAST.isoformat(),
                       "end_date": None, "timezone": "UTC", "jitter": None})


def _options() -> str:
    return json.dumps({"name": "x", "executor": "default", "coalesce": True,
                       "misfire_grace_time": None, "max_instances": 1, "kwargs": {}})


async def _sweeps(ctx, n: int, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        with ctx.sessions() as s:
            done = s.scalars(select(JobRun.id).where(JobRun.job == "shred_sweep",
                                                     JobRun.trigger == "schedule",
                                                     JobRun.outcome == "ok")).all()
        if len(done) >= n:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the scheduler stopped running the bot's own jobs")


async def test_jobs_are_stored_as_data_and_rebuilt_from_it(migrated_database_url: str) -> None:
    with context(migrated_database_url, FixedClock(NOV30)) as ctx:
        scheduler = start_scheduler(ctx, context_key="store1", catch_up_on_start=False)
        try:
            with ctx.engine.connect() as conn:
                rows = {r.id: r for r in conn.execute(select(JOBS))}
            assert set(rows) == {"rotation", "shred_sweep", "key_epoch"}
            for row in rows.values():
                assert row.func_ref == "medcrypt.bot.scheduler.runner:scheduled"
                assert isinstance(json.loads(row.trigger), dict)  # text, not a pickle
            assert json.loads(rows["rotation"].args) == ["store1", "rotation"]
            assert json.loads(rows["rotation"].trigger)["type"] == "cron"
            job = scheduler.get_job("rotation")  # rebuilt by the store from the row
            assert job is not None and job.func is scheduled
            assert job.args == ("store1", "rotation") and job.coalesce
            assert job.misfire_grace_time == int(ROTATION_MISFIRE.total_seconds())
            assert trigger_spec(job.trigger) == trigger_spec(rotation_trigger(ctx))
            # APScheduler computes fire times from its own wall clock, not the FixedClock.
            nxt = job.next_run_time
            assert nxt is not None and (nxt.day, nxt.hour, nxt.minute) == (1, 0, 0)
            when = datetime(2027, 3, 15, tzinfo=UTC)
            assert job.trigger.get_next_fire_time(None, when) == datetime(2027, 4, 1, tzinfo=UTC)
            sweep = scheduler.get_job("shred_sweep")
            assert sweep is not None and sweep.trigger.interval == timedelta(
                minutes=ctx.settings.schedule.shred_interval_minutes)
        finally:
            stop_scheduler(scheduler, context_key="store1")


async def test_a_row_naming_another_function_is_refused_and_never_runs(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A module whose import alone leaves a trace, and whose function would leave another.
    imported, ran = tmp_path / "imported", tmp_path / "ran"
    (tmp_path / "evil_jobs_mod.py").write_text(
        f"open({str(imported)!r}, 'w').close()\n"
        "def boom(path):\n    open(path, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with context(sqlite_url, FixedClock(NOV30)) as ctx:
        due = PAST.timestamp()
        with ctx.engine.begin() as conn:
            conn.execute(insert(JOBS), [
                {"id": "evil", "func_ref": "evil_jobs_mod:boom", "trigger": _interval_spec(),
                 "args": json.dumps([str(ran)]), "options": _options(), "next_run_time": due},
                {"id": "shell", "func_ref": "os:system", "trigger": _interval_spec(),
                 "args": json.dumps([f"touch {ran}"]), "options": _options(),
                 "next_run_time": due},
            ])
        store = DataJobStore(ctx.engine, JOB_FUNCTIONS)
        with pytest.raises(StorageError, match=r"'evil'.*'evil_jobs_mod:boom' is not on the "
                                               r"allow-list of the bot's jobs"):
            store.lookup_job("evil")
        with capture_logs() as logs:
            scheduler = start_scheduler(ctx, context_key="store2", sweep_interval_seconds=0.3)
            try:
                await _sweeps(ctx, 2)  # the bot's own jobs keep running
            finally:
                stop_scheduler(scheduler, context_key="store2")
        refused = {e["job"] for e in logs if e["event"] == "scheduler_job_refused"}
        assert refused == {"evil", "shell"}
        assert not ran.exists() and not imported.exists()
        assert "evil_jobs_mod" not in sys.modules
        with ctx.engine.connect() as conn:
            parked = dict(conn.execute(select(JOBS.c.id, JOBS.c.next_run_time)
                                       .where(JOBS.c.id.in_(["evil", "shell"]))).all())
        assert parked == {"evil": None, "shell": None}  # kept for the operator, never due


@pytest.mark.parametrize("column,value,why", [
    ("trigger", "not json", "not valid JSON"),
    ("trigger", json.dumps({"type": "date", "run_date": "2026-01-01T00:00:00+00:00"}),
     "trigger type must be"),
    ("trigger", json.dumps({"type": "cron", "fields": {"day": "1"}, "start_date": None,
                            "end_date": None, "timezone": "UTC", "jitter": None}),
     "cron fields"),
    ("args", json.dumps([{"__reduce__": "os.system"}]), "not plain data"),
    ("options", json.dumps({"name": "x"}), "options are not valid"),
])
def test_malformed_rows_of_an_allowed_function_are_refused(
    sqlite_url: str, column: str, value: str, why: str,
) -> None:
    with context(sqlite_url, FixedClock(NOV30)) as ctx:
        row = {"id": "bad", "func_ref": "medcrypt.bot.scheduler.runner:scheduled",
               "trigger": _interval_spec(), "args": json.dumps(["bot", "rotation"]),
               "options": _options(), "next_run_time": PAST.timestamp()}
        row[column] = value
        with ctx.engine.begin() as conn:
            conn.execute(insert(JOBS), [row])
        store = DataJobStore(ctx.engine, JOB_FUNCTIONS)
        with pytest.raises(StorageError, match=why):
            store.lookup_job("bad")
        assert store.get_due_jobs(datetime.now(UTC)) == []
        assert store.get_next_run_time() is None  # parked: no wake-ups for it


def test_the_store_refuses_to_save_a_job_it_could_not_rebuild(sqlite_url: str) -> None:
    with context(sqlite_url, FixedClock(NOV30)) as ctx:
        scheduler = BackgroundScheduler(timezone=UTC, jobstores={
            "default": DataJobStore(ctx.engine, JOB_FUNCTIONS)})
        scheduler.start(paused=True)
        try:
            with pytest.raises(StorageError, match="not one of the bot's jobs"):
                scheduler.add_job(print, "interval", seconds=5, id="print")
            with pytest.raises(StorageError, match="cron and interval triggers only"):
                scheduler.add_job(scheduled, "date", run_date=NOV30, args=["bot", "rotation"],
                                  id="once")
            with ctx.engine.connect() as conn:
                assert conn.execute(select(JOBS.c.id)).all() == []
        finally:
            scheduler.shutdown(wait=False)


async def test_missed_fire_times_in_the_store_run_once_coalesced(sqlite_url: str) -> None:
    """A stored job whose fire times passed while nothing ran (bot down, loop blocked)
    runs once, not once per missed time, and its next run moves into the future."""
    with context(sqlite_url, FixedClock(NOV30)) as ctx:
        now = datetime.now(UTC)
        sched._CONTEXTS["store3"] = ctx
        scheduler = AsyncIOScheduler(
            event_loop=asyncio.get_running_loop(), timezone=UTC,
            jobstores={"default": DataJobStore(ctx.engine, JOB_FUNCTIONS)})
        scheduler.start(paused=True)
        try:
            scheduler.add_job(
                scheduled, IntervalTrigger(seconds=60, start_date=now - timedelta(minutes=30),
                                           timezone=UTC),
                args=["store3", "shred_sweep"], id="shred_sweep", coalesce=True,
                misfire_grace_time=3600, next_run_time=now - timedelta(minutes=10))
            scheduler.resume()
            await _sweeps(ctx, 1)
            await asyncio.sleep(0.5)  # room for any further (wrong) catch-up runs
        finally:
            scheduler.shutdown(wait=False)
            sched._CONTEXTS.pop("store3", None)
        with ctx.sessions() as s:
            runs = s.scalars(select(JobRun.trigger).where(JobRun.job == "shred_sweep")).all()
        assert runs == ["schedule"]
        with ctx.engine.connect() as conn:
            nxt = conn.execute(select(JOBS.c.next_run_time)
                               .where(JOBS.c.id == "shred_sweep")).scalar_one()
        assert nxt > now.timestamp()


def test_adding_a_taken_id_is_refused_and_keeps_the_stored_job(migrated_database_url: str) -> None:
    """Insert-if-absent: a second job under one id raises APScheduler's conflict error
    (what ``replace_existing=False`` relies on) and the first row is left as it was."""
    with context(migrated_database_url, FixedClock(NOV30)) as ctx:
        store = DataJobStore(ctx.engine, JOB_FUNCTIONS)
        scheduler = BackgroundScheduler(timezone=UTC, jobstores={"default": store})
        scheduler.start(paused=True)
        try:
            trigger = IntervalTrigger(seconds=60, start_date=PAST, timezone=UTC)
            scheduler.add_job(scheduled, trigger, args=["k", "shred_sweep"], id="dup")
            with pytest.raises(ConflictingIdError):
                scheduler.add_job(scheduled, trigger, args=["k", "rotation"], id="dup")
            job = scheduler.get_job("dup")
            assert job is not None and job.args == ("k", "shred_sweep")
            assert set(stored_next_run_times(ctx.engine)) == {"dup"}
        finally:
            scheduler.shutdown(wait=False)
