"""Jobs exactly once per slot, and one run of a job at a time (issue 18), on SQLite and
PostgreSQL: a completed slot is skipped, a slot whose run was killed half-way is resumed
in its own row, and the scheduler, ``jobs run`` and ``/rotate_now`` share one lock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from medcrypt.bot.commands.lifecycle_chat import ROTATION_BUSY, rotate_now_command
from medcrypt.bot.domain.lifecycle.runs import run_job
from medcrypt.bot.scheduler.runner import SLOT_ORIGIN, latest_slot, rotation_trigger, sweep_trigger
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.storage.joblock import JobBusy, job_lock
from medcrypt.storage.models.jobs import JobRun
from medcrypt.storage.repos import jobs as job_rows
from tests.support.jobs import add_pairing, context

NOV30 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SLOT = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


def _runs(ctx) -> list[tuple[str, datetime | None, str]]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as s:
        return [(r.job, r.slot, r.outcome) for r in s.scalars(
            select(JobRun).order_by(JobRun.id))]


def test_a_completed_slot_runs_once(migrated_database_url: str) -> None:
    with context(migrated_database_url, FixedClock(NOV30)) as ctx:
        first = run_job(ctx, "shred_sweep", trigger="schedule", slot=SLOT)
        again = run_job(ctx, "shred_sweep", trigger="startup", slot=SLOT)
        later = run_job(ctx, "shred_sweep", trigger="schedule", slot=SLOT + timedelta(hours=1))
        assert (first.outcome, again.outcome, later.outcome) == ("ok", "skipped", "ok")
        assert _runs(ctx) == [("shred_sweep", SLOT, "ok"),
                              ("shred_sweep", SLOT + timedelta(hours=1), "ok")]
        run_job(ctx, "shred_sweep", trigger="manual")  # no slot: always runs
        assert len(_runs(ctx)) == 3


def test_a_run_killed_half_way_is_resumed_in_its_row(migrated_database_url: str) -> None:
    clock = FixedClock(datetime(2026, 12, 1, 0, 5, tzinfo=UTC))
    with context(migrated_database_url, clock) as ctx:
        add_pairing(ctx, start_epoch=epoch_of(datetime(2026, 11, 2, tzinfo=UTC)),
                    at=datetime(2026, 11, 2, tzinfo=UTC))
        slot = datetime(2026, 12, 1, tzinfo=UTC)
        # The killed run: its slot row says "running" and nothing finished it.
        with ctx.sessions.begin() as s:
            claimed = job_rows.claim_slot(s, job="rotation", slot=slot, trigger="schedule",
                                          as_of=clock.now(), started_at=clock.now())
        assert claimed is not None and claimed[1] is False
        resumed = run_job(ctx, "rotation", trigger="startup", slot=slot)
        assert resumed.outcome == "ok"
        runs = _runs(ctx)
        assert runs == [("rotation", slot, "ok")]  # the same row, now complete
        with ctx.sessions() as s:
            row = s.scalars(select(JobRun)).one()
        assert row.id == claimed[0] and row.trigger == "startup"
        assert run_job(ctx, "rotation", trigger="schedule", slot=slot).outcome == "skipped"


def test_a_failed_slot_is_tried_again(migrated_database_url: str) -> None:
    with context(migrated_database_url, FixedClock(NOV30)) as ctx:
        with ctx.sessions.begin() as s:
            claimed = job_rows.claim_slot(s, job="shred_sweep", slot=SLOT, trigger="schedule",
                                          as_of=NOV30, started_at=NOV30)
            assert claimed is not None
            job_rows.finish_run(s, claimed[0], outcome="failed", finished_at=NOV30,
                                summary="{}", error="OperationalError")
        assert run_job(ctx, "shred_sweep", trigger="schedule", slot=SLOT).outcome == "ok"
        assert _runs(ctx) == [("shred_sweep", SLOT, "ok")]


def test_one_run_of_a_job_at_a_time(migrated_database_url: str) -> None:
    """The scheduler, ``jobs run`` and ``/rotate_now`` take one lock: while it is held
    (here by a thread standing for another process's run), each is refused at once."""
    with context(migrated_database_url, FixedClock(NOV30)) as ctx:
        held, release = threading.Event(), threading.Event()

        def other_run() -> None:
            with job_lock(ctx.engine, "rotation"):
                held.set()
                release.wait(30)

        thread = threading.Thread(target=other_run)
        thread.start()
        try:
            assert held.wait(10)
            with pytest.raises(JobBusy, match="job rotation is already running"):
                run_job(ctx, "rotation", trigger="manual")
            with pytest.raises(JobBusy):
                run_job(ctx, "rotation", trigger="schedule", slot=SLOT)
            admin = _an_identity(ctx)
            assert rotate_now_command(ctx, admin, ["all"]).text.in_("en") == ROTATION_BUSY
            # Another job is not held up.
            assert run_job(ctx, "shred_sweep", trigger="manual").outcome == "ok"
        finally:
            release.set()
            thread.join(10)
        assert run_job(ctx, "rotation", trigger="manual").outcome == "ok"
        assert [r for r in _runs(ctx) if r[0] == "rotation"] == [("rotation", None, "ok")]


def _an_identity(ctx) -> str:  # type: ignore[no-untyped-def]
    return add_pairing(ctx, start_epoch=epoch_of(NOV30), at=NOV30).physician_id


def test_slots_are_the_triggers_last_fire_times() -> None:
    from medcrypt.bot.domain.config import parse_settings

    class _Ctx:
        settings = parse_settings({"schedule": {"shred_interval_minutes": 15}})

    ctx = _Ctx()
    monthly = rotation_trigger(ctx)  # type: ignore[arg-type]
    assert latest_slot(monthly, datetime(2026, 12, 17, 9, tzinfo=UTC)) == \
        datetime(2026, 12, 1, tzinfo=UTC)
    assert latest_slot(monthly, datetime(2026, 12, 1, tzinfo=UTC)) == \
        datetime(2026, 12, 1, tzinfo=UTC)
    sweep = sweep_trigger(ctx)  # type: ignore[arg-type]
    at = datetime(2026, 12, 17, 9, 44, 59, tzinfo=UTC)
    assert latest_slot(sweep, at) == datetime(2026, 12, 17, 9, 30, tzinfo=UTC)
    # Every replica computes the same slots: they count from a fixed origin.
    assert (latest_slot(sweep, at) - SLOT_ORIGIN) % timedelta(minutes=15) == timedelta(0)
