"""Job bookkeeping: the ``job_runs`` record of every run and the one-time ``/shred``
confirmation codes (``shred_confirmations``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from medcrypt.storage.models.jobs import JobRun, ShredConfirmation
from medcrypt.storage.repos._sql import insert_ignore

_CONFIRMATIONS: Table = ShredConfirmation.__table__  # type: ignore[assignment]


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


def replace_confirmation(session: Session, *, pairing_id: str, actor_id: str,
                         code_hash: bytes, now: datetime, expires_at: datetime) -> None:
    """The admin's one pending ``/shred`` code for this pairing (an earlier one goes)."""
    session.execute(delete(ShredConfirmation).where(
        ShredConfirmation.pairing_id == pairing_id, ShredConfirmation.actor_id == actor_id))
    insert_ignore(session, _CONFIRMATIONS, [{
        "pairing_id": pairing_id, "actor_id": actor_id, "code_hash": code_hash,
        "created_at": now, "expires_at": expires_at}])


def take_confirmation(session: Session, *, pairing_id: str,
                      actor_id: str) -> tuple[bytes, datetime] | None:
    """Remove and return (code hash, expiry) of the admin's pending code, if any.

    ``DELETE ... RETURNING``: the code is consumed by the one request that took it.
    """
    row = session.execute(
        delete(ShredConfirmation)
        .where(ShredConfirmation.pairing_id == pairing_id, ShredConfirmation.actor_id == actor_id)
        .returning(ShredConfirmation.code_hash, ShredConfirmation.expires_at)
    ).first()
    return None if row is None else (bytes(row[0]), row[1])


def count_confirmations(session: Session) -> int:
    """How many ``/shred`` codes are outstanding."""
    return int(session.scalar(select(func.count()).select_from(ShredConfirmation)) or 0)
