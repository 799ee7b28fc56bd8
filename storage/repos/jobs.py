"""Job bookkeeping: the ``job_runs`` record of every run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from medcrypt.storage.models.jobs import JobRun
from medcrypt.storage.repos._sql import dialect_insert

_RUNS: Table = JobRun.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class RunRecord:
    job: str
    trigger: str
    as_of: datetime
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    #: JSON of counts only.
    summary: str
    error: str | None


def begin_run(session: Session, *, job: str, trigger: str, as_of: datetime,
              started_at: datetime) -> int:
    """A ``running`` row for a job run that starts now; returns its id."""
    run = JobRun(job=job, trigger=trigger, as_of=as_of, started_at=started_at,
                 outcome="running", summary="{}")
    session.add(run)
    session.flush()
    return run.id


def claim_slot(session: Session, *, job: str, slot: datetime, trigger: str,
               as_of: datetime, started_at: datetime) -> tuple[int, bool] | None:
    """Start the run of ``(job, slot)``: (row id, resumed), or None when the slot
    already completed.

    Writes first, never reads first: an INSERT that skips an existing slot, then, if it
    did, an UPDATE that takes the slot over unless it completed. A slot whose run was
    killed half-way (``running``) or failed is so continued in the same row - the job's
    work skips what that run committed, so it resumes rather than repeats - and a
    completed slot is left alone. (On SQLite a transaction that reads before it writes
    cannot wait for the write lock; see :func:`finish_run`.)
    """
    new = session.execute(dialect_insert(session, _RUNS).values(
        job=job, slot=slot, trigger=trigger, as_of=as_of, started_at=started_at,
        outcome="running", summary="{}").on_conflict_do_nothing().returning(_RUNS.c.id)).first()
    if new is not None:
        return int(new[0]), False
    taken = session.execute(update(JobRun).where(
        JobRun.job == job, JobRun.slot == slot, JobRun.outcome != "ok").values(
        trigger=trigger, as_of=as_of, started_at=started_at, outcome="running",
        finished_at=None, error=None).returning(JobRun.id)).first()
    return None if taken is None else (int(taken[0]), True)


def slot_done(session: Session, job: str, slot: datetime) -> bool:
    """Whether the run of ``(job, slot)`` completed."""
    return session.execute(select(JobRun.id).where(
        JobRun.job == job, JobRun.slot == slot, JobRun.outcome == "ok")).first() is not None


def finish_run(session: Session, run_id: int, *, outcome: str, finished_at: datetime,
               summary: str, error: str | None) -> None:
    """Record how a run ended. One UPDATE, no read first: on SQLite a read-then-write
    transaction cannot wait for the write lock (another replica's job may hold it)."""
    session.execute(update(JobRun).where(JobRun.id == run_id).values(
        outcome=outcome, finished_at=finished_at, summary=summary[:512], error=error))


def last_run(session: Session, job: str) -> RunRecord | None:
    """The most recent run of ``job`` (by start time)."""
    run = session.scalars(select(JobRun).where(JobRun.job == job)
                          .order_by(JobRun.started_at.desc(), JobRun.id.desc())
                          .limit(1)).first()
    if run is None:
        return None
    return RunRecord(run.job, run.trigger, run.as_of, run.started_at, run.finished_at,
                     run.outcome, run.summary, run.error)
