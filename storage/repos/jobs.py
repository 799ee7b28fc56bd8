"""Job bookkeeping: the ``job_runs`` record of every run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from medcrypt.storage.models.jobs import JobRun


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
