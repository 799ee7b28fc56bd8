"""APScheduler's persistent job store, holding data only - never a pickle.

APScheduler's own ``SQLAlchemyJobStore`` pickles each job into the database and
unpickles it on every wake-up: whoever can write one row of the bot's database could
make the bot run code of their choosing. This store keeps a job as plain columns in
``scheduler_jobs`` - its id, a ``module:function`` reference, the trigger as JSON
(cron fields or an interval, with dates as ISO-8601 text), JSON arguments and options,
and the next run time - and rebuilds a job only when its reference is on a fixed
allow-list of the bot's own job functions handed in by :mod:`bot.scheduler.runner`. The
reference is checked *before* anything is imported or called; a row that names any
other function, or does not parse, is refused with a :class:`StorageError` naming the
job, is never executed, and is parked (``next_run_time`` NULL) so the scheduler does
not wake for it again. The row itself stays for an operator to inspect.

It lives in storage because it is SQL on ``scheduler_jobs`` and nothing else: the bot
hands in the allow-list and never sees the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog
from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from apscheduler.util import datetime_to_utc_timestamp, utc_timestamp_to_datetime
from sqlalchemy import Engine, Table, delete, select, update

from medcrypt.crypto.errors import StorageError
from medcrypt.storage.models.jobs import ScheduledJob
from medcrypt.storage.repos._sql import dialect_insert
from medcrypt.storage.triggerspec import trigger_from_spec, trigger_spec

log = structlog.get_logger("bot.jobs")

JOBS: Table = ScheduledJob.__table__  # type: ignore[assignment]
_SCALARS = (str, int, float, bool, type(None))


def _refuse(job_id: str, why: str) -> StorageError:
    return StorageError(f"scheduler job {job_id[:64]!r} refused: {why}")


def _scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value)


class DataJobStore(BaseJobStore):  # type: ignore[misc]  # APScheduler ships no types
    """A job store on the bot's engine that stores and rebuilds jobs from data only."""

    def __init__(self, engine: Engine, allowed: Mapping[str, Callable[..., object]]) -> None:
        super().__init__()
        self._engine = engine
        self._allowed = dict(allowed)

    # -- encoding -------------------------------------------------------------------

    def _row(self, job: Job) -> dict[str, Any]:
        """The columns for ``job``; refuses what this store could not rebuild."""
        ref = job.func_ref
        if ref not in self._allowed:
            raise _refuse(job.id, f"function {str(ref)[:80]!r} is not one of the bot's jobs")
        args, kwargs = list(job.args), dict(job.kwargs)
        if not _scalar_list(args) or not all(
                isinstance(k, str) and isinstance(v, _SCALARS) for k, v in kwargs.items()):
            raise _refuse(job.id, "arguments must be plain strings, numbers or booleans")
        options = {"name": job.name, "executor": job.executor, "coalesce": job.coalesce,
                   "misfire_grace_time": job.misfire_grace_time,
                   "max_instances": job.max_instances, "kwargs": kwargs}
        return {"id": job.id, "func_ref": ref, "trigger": json.dumps(trigger_spec(job.trigger)),
                "args": json.dumps(args), "options": json.dumps(options, sort_keys=True),
                "next_run_time": datetime_to_utc_timestamp(job.next_run_time)}

    def _job(self, row: Any) -> Job:
        """Rebuild a job from a row - allow-list first, nothing imported from the row."""
        job_id = str(row.id)
        ref = str(row.func_ref)
        if ref not in self._allowed:
            raise _refuse(job_id, f"function {ref[:80]!r} is not on the allow-list of the "
                                  f"bot's jobs ({', '.join(sorted(self._allowed))})")
        try:
            args = json.loads(row.args)
            options = json.loads(row.options)
            trigger = trigger_from_spec(json.loads(row.trigger))
        except ValueError:  # JSONDecodeError is one
            raise _refuse(job_id, "stored job is not valid JSON") from None
        except StorageError as exc:
            raise _refuse(job_id, str(exc)) from None
        if not _scalar_list(args) or not isinstance(options, dict):
            raise _refuse(job_id, "stored arguments or options are not plain data")
        kwargs = options.get("kwargs", {})
        grace = options.get("misfire_grace_time")
        checks = (
            isinstance(options.get("name"), str), isinstance(options.get("executor"), str),
            isinstance(options.get("coalesce"), bool),
            grace is None or (isinstance(grace, int) and not isinstance(grace, bool)),
            isinstance(options.get("max_instances"), int)
            and not isinstance(options["max_instances"], bool) and options["max_instances"] >= 1,
            isinstance(kwargs, dict) and all(isinstance(v, _SCALARS) for v in kwargs.values()),
        )
        if not all(checks):
            raise _refuse(job_id, "stored options are not valid")
        job: Job = Job.__new__(Job)
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        job.id, job.func_ref, job.func = job_id, ref, self._allowed[ref]
        job.trigger, job.executor = trigger, options["executor"]
        job.args, job.kwargs, job.name = tuple(args), kwargs, options["name"]
        job.misfire_grace_time, job.coalesce = grace, options["coalesce"]
        job.max_instances = options["max_instances"]
        job.next_run_time = utc_timestamp_to_datetime(row.next_run_time)
        return job

    def _jobs(self, *where: Any) -> list[Job]:
        """Rebuild matching jobs in run order; refused rows are logged and parked."""
        stmt = select(JOBS).where(*where).order_by(JOBS.c.next_run_time)
        jobs: list[Job] = []
        refused: list[Any] = []
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        for row in rows:
            try:
                jobs.append(self._job(row))
            except StorageError as exc:
                log.error("scheduler_job_refused", job=str(row.id)[:64], error=str(exc))
                refused.append(row)
        if refused:
            # Park exactly the row that was refused: if another replica has meanwhile
            # replaced it with a valid job, the values differ and it stays scheduled.
            with self._engine.begin() as conn:
                for row in refused:
                    conn.execute(update(JOBS).where(
                        JOBS.c.id == row.id, JOBS.c.func_ref == row.func_ref,
                        JOBS.c.trigger == row.trigger, JOBS.c.args == row.args,
                        JOBS.c.options == row.options).values(next_run_time=None))
        return jobs

    # -- the BaseJobStore interface ---------------------------------------------------

    def lookup_job(self, job_id: str) -> Job | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(JOBS).where(JOBS.c.id == job_id)).first()
        return None if row is None else self._job(row)

    def get_due_jobs(self, now: datetime) -> list[Job]:
        return self._jobs(JOBS.c.next_run_time <= datetime_to_utc_timestamp(now))

    def get_next_run_time(self) -> datetime | None:
        stmt = (select(JOBS.c.next_run_time)
                .where(JOBS.c.next_run_time.is_not(None),
                       JOBS.c.func_ref.in_(sorted(self._allowed)))
                .order_by(JOBS.c.next_run_time).limit(1))
        with self._engine.connect() as conn:
            value = conn.execute(stmt).scalar()
        return utc_timestamp_to_datetime(value)  # type: ignore[no-any-return]

    def get_all_jobs(self) -> list[Job]:
        jobs = self._jobs()
        self._fix_paused_jobs_sorting(jobs)
        return jobs

    def add_job(self, job: Job) -> None:
        row = self._row(job)
        # Insert-if-absent: the primary key decides, atomically, whether the id is free.
        stmt = dialect_insert(self._engine, JOBS).values(**row).on_conflict_do_nothing() \
            .returning(JOBS.c.id)
        with self._engine.begin() as conn:
            added = conn.execute(stmt).first() is not None
        if not added:
            raise ConflictingIdError(job.id)

    def update_job(self, job: Job) -> None:
        row = self._row(job)
        with self._engine.begin() as conn:
            done = conn.execute(update(JOBS).where(JOBS.c.id == job.id).values(**row))
        if done.rowcount == 0:
            raise JobLookupError(job.id)

    def remove_job(self, job_id: str) -> None:
        with self._engine.begin() as conn:
            done = conn.execute(delete(JOBS).where(JOBS.c.id == job_id))
        if done.rowcount == 0:
            raise JobLookupError(job_id)

    def remove_all_jobs(self) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(JOBS))

    def shutdown(self) -> None:
        """Nothing to release: the engine is the bot's, and the bot disposes of it."""


def stored_next_run_times(engine: Engine) -> dict[str, float | None]:
    """job id → stored next fire time (UTC timestamp; None while parked or paused), for
    every job the store holds - what ``jobs list`` and ``/jobs`` show as "next"."""
    with engine.connect() as conn:
        return {str(r[0]): None if r[1] is None else float(r[1])
                for r in conn.execute(select(JOBS.c.id, JOBS.c.next_run_time))}

