"""APScheduler in the bot's event loop, with its job store in the bot's database.

* Rotation runs on ``schedule.rotation_cron`` (UTC, default 00:00 on the 1st) and the
  shred sweep every ``schedule.shred_interval_minutes``.
* Jobs persist in ``scheduler_jobs`` in the bot's database through
  :class:`storage.jobstore.DataJobStore`: plain columns and JSON, never a pickle, and
  a job is rebuilt only if its function is on :data:`JOB_FUNCTIONS` - so writing that
  table cannot make the bot run anything but its own jobs. A stored fire time that
  passed unrun (event loop blocked, machine suspended) is still due: ``coalesce`` folds
  any number of missed runs into one and ``misfire_grace_time`` (a month for rotation)
  lets it run late, not be skipped. At start the jobs are re-registered from settings
  (``replace_existing``), so downtime itself is covered by the catch-up below.
* On start the bot also runs rotation then sweep once (trigger ``startup``) for the
  latest slot of each (the last fire time at or before now), skipped when that slot
  completed. Both jobs compute their target state from the calendar, so this catch-up
  is correct whether the bot was down for an hour or across several month boundaries.
* Slots (issue 18): every scheduled run names its slot and ``job_runs`` holds each
  ``(job, slot)`` once, so replicas - of which only the scheduler-lease holder runs
  APScheduler (APScheduler 3 cannot share a store between schedulers) - never run a
  slot twice, and a holder killed mid-run has its slot resumed by the next one. The
  sweep's interval counts from :data:`SLOT_ORIGIN`, so every replica computes the same
  slots.
* Job functions are module-level and take only a context key and a job name, so the
  stored job holds no object, key or connection - only ``medcrypt.bot.scheduler.runner:scheduled``
  and two strings.

The job functions are synchronous (SQLAlchemy), so APScheduler's asyncio executor runs
them in the loop's thread pool and the relay keeps serving while a sweep runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from medcrypt.bot.domain.lifecycle.runs import run_job
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.errors import ConfigError
from medcrypt.storage.joblock import JobBusy
from medcrypt.storage.jobstore import DataJobStore, stored_next_run_times

log = structlog.get_logger("bot.jobs")

_CONTEXTS: dict[str, Services] = {}
#: The triggers the running scheduler registered, by job (the sweep's interval may be
#: a test's override); slots are computed from these.
_TRIGGERS: dict[str, CronTrigger | IntervalTrigger] = {}
#: Job functions running right now (APScheduler runs them in the loop's thread pool).
_RUNNING = threading.Condition()
_running_count = [0]
ROTATION_MISFIRE = timedelta(days=31)
#: Where the sweep's interval slots count from (any fixed instant will do).
SLOT_ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)
#: When the key_epoch job checks (UTC, daily; away from the monthly rotation's 00:00).
KEY_EPOCH_CRON = "17 3 * * *"
#: How far back :func:`latest_slot` looks for a cron job's last fire time.
CRON_LOOKBACK = timedelta(days=32)


def rotation_trigger(ctx: Services) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(ctx.settings.schedule.rotation_cron, timezone=UTC)
    except ValueError as exc:
        raise ConfigError("schedule.rotation_cron", str(exc)) from None


def sweep_trigger(ctx: Services, interval_seconds: float | None = None) -> IntervalTrigger:
    seconds = interval_seconds or ctx.settings.schedule.shred_interval_minutes * 60
    if seconds <= 0:
        raise ConfigError("schedule.shred_interval_minutes", "must be at least 1")
    return IntervalTrigger(seconds=seconds, timezone=UTC, start_date=SLOT_ORIGIN)


def latest_slot(trigger: CronTrigger | IntervalTrigger, now: datetime) -> datetime | None:
    """The trigger's last fire time at or before ``now`` (None: none in the lookback)."""
    back = (timedelta(seconds=trigger.interval_length)
            if isinstance(trigger, IntervalTrigger) else CRON_LOOKBACK)
    last: datetime | None = None
    at: datetime | None = trigger.get_next_fire_time(None, now - back)
    while at is not None and at <= now:
        last = at
        at = trigger.get_next_fire_time(at, at + timedelta(microseconds=1))
    return last


def key_epoch_trigger() -> CronTrigger:
    """Daily: the key_epoch job closes the shred epoch once it is due (its module)."""
    return CronTrigger.from_crontab(KEY_EPOCH_CRON, timezone=UTC)


def job_trigger(ctx: Services, job: str) -> CronTrigger | IntervalTrigger:
    if job == "key_epoch":
        return key_epoch_trigger()
    return rotation_trigger(ctx) if job == "rotation" else sweep_trigger(ctx)


def wait_idle(timeout: float) -> bool:
    """Wait until no job function is running in this process (bot shutdown: a job
    thread must not outlive the engine it uses). True if idle within ``timeout``."""
    with _RUNNING:
        return _RUNNING.wait_for(lambda: _running_count[0] == 0, timeout=timeout)


@contextlib.contextmanager
def _busy() -> Iterator[None]:
    """Count a running job function for :func:`wait_idle`."""
    with _RUNNING:
        _running_count[0] += 1
    try:
        yield
    finally:
        with _RUNNING:
            _running_count[0] -= 1
            _RUNNING.notify_all()


def scheduled(context_key: str, job: str, trigger: str = "schedule") -> None:
    """What the job store calls: look up the live context and run the job, logging failures."""
    with _busy():  # before the look-up: a stop between the two would not wait for us
        ctx = _CONTEXTS.get(context_key)
        if ctx is None:
            # Only after a stop: the executor started a job the scheduler had already
            # handed it. Not a warning (it would land in whatever shares stderr).
            log.debug("job_after_stop", job=job)
            return
        _run_logged(ctx, job, trigger)


def _run_logged(ctx: Services, job: str, trigger: str) -> None:
    try:
        # The slot is the fire time the run stands for: APScheduler fires on real time;
        # the start-up catch-up reasons as of the bot's clock (the demo and the tests
        # move it). In production both are the system clock.
        at = ctx.clock.now() if trigger == "startup" else datetime.now(UTC)
        slot = latest_slot(_TRIGGERS.get(job) or job_trigger(ctx, job), at)
        outcome = run_job(ctx, job, trigger=trigger, slot=slot)
        log.info("job_done", job=outcome.job, trigger=trigger, outcome=outcome.outcome,
                 **outcome.summary)
    except JobBusy:
        log.info("job_busy", job=job, trigger=trigger)  # its slot stays for the next tick
    except Exception as exc:  # recorded in job_runs by run_job; keep the scheduler alive
        log.error("job_failed", job=job, trigger=trigger, error=type(exc).__name__)


#: The only functions the persistent job store will rebuild a job around (by reference).
JOB_FUNCTIONS: dict[str, Callable[..., object]] = {
    "medcrypt.bot.scheduler.runner:scheduled": scheduled,
}


def catch_up(context_key: str, ctx: Services) -> None:
    """Start-up run: rotate to the current month first, then sweep, then close the key
    epoch if it fell due while the bot was down.

    One busy span for all three, on the context of the bot that scheduled it (passed in:
    the one-off job lives in memory): counted job by job, :func:`wait_idle` could return
    between two of them, the bot stop and dispose its engine, and the next step run on
    whatever context then held the key (in tests, the next bot's). The check is made
    inside the span: the executor may start this thread after that bot's stop has
    already waited for idle, and then it must do nothing."""
    with _busy():
        for job in ("rotation", "shred_sweep", "key_epoch"):
            if _CONTEXTS.get(context_key) is not ctx:
                return  # the bot stopped: the next start catches up
            _run_logged(ctx, job, "startup")


def start_scheduler(
    app_context: Services, *, context_key: str = "bot", catch_up_on_start: bool = True,
    sweep_interval_seconds: float | None = None,
) -> AsyncIOScheduler:
    """Create and start the scheduler in the running event loop; the caller shuts it down.

    ``sweep_interval_seconds`` overrides the configured interval (tests only).
    """
    loop = asyncio.get_running_loop()
    _CONTEXTS[context_key] = app_context
    scheduler = AsyncIOScheduler(
        event_loop=loop,
        jobstores={"default": DataJobStore(app_context.engine, JOB_FUNCTIONS)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone=UTC,
    )
    _TRIGGERS["rotation"] = rotation_trigger(app_context)
    _TRIGGERS["shred_sweep"] = sweep_trigger(app_context, sweep_interval_seconds)
    scheduler.add_job(scheduled, _TRIGGERS["rotation"], args=[context_key, "rotation"],
                      id="rotation", name="rotation", replace_existing=True,
                      misfire_grace_time=int(ROTATION_MISFIRE.total_seconds()))
    scheduler.add_job(scheduled, _TRIGGERS["shred_sweep"],
                      args=[context_key, "shred_sweep"], id="shred_sweep", name="shred_sweep",
                      replace_existing=True)
    _TRIGGERS["key_epoch"] = key_epoch_trigger()
    scheduler.add_job(scheduled, _TRIGGERS["key_epoch"], args=[context_key, "key_epoch"],
                      id="key_epoch", name="key_epoch", replace_existing=True,
                      misfire_grace_time=int(ROTATION_MISFIRE.total_seconds()))
    if catch_up_on_start:
        # A one-off job in the in-memory store: it must not outlive this process.
        scheduler.add_jobstore("memory", "startup")
        scheduler.add_job(catch_up, args=[context_key, app_context], id="catch_up",
                          jobstore="startup", replace_existing=True)
    scheduler.start()
    return scheduler


def stop_scheduler(scheduler: AsyncIOScheduler, *, context_key: str = "bot") -> None:
    scheduler.shutdown(wait=False)
    _CONTEXTS.pop(context_key, None)


def next_runs(ctx: Services, now: datetime) -> dict[str, tuple[datetime | None, bool]]:
    """Next fire time per job: (time, stored) - from the job store when the bot has
    registered the job, otherwise computed from the configured trigger."""
    stored = stored_next_run_times(ctx.engine)
    out: dict[str, tuple[datetime | None, bool]] = {}
    triggers = {"rotation": rotation_trigger(ctx), "shred_sweep": sweep_trigger(ctx),
                "key_epoch": key_epoch_trigger()}
    for job, trig in triggers.items():
        if job in stored:
            ts = stored[job]
            out[job] = (None if ts is None else datetime.fromtimestamp(float(ts), UTC), True)
        else:
            out[job] = (trig.get_next_fire_time(None, now), False)
    return out
