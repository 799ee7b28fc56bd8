"""Scheduler bookkeeping: the persistent job store and job run outcomes.

``scheduler_jobs`` is the bot's APScheduler job store, as data only: an id, a
``module:function`` reference that must be on the bot's allow-list to be rebuilt, the
trigger, arguments and options as JSON, and the next run time. It replaces
APScheduler's own ``apscheduler_jobs`` table (revision 0007 drops it), which held a
pickle per job - anyone able to write that table could have made the bot unpickle,
and so run, code of their choosing (see storage/jobstore.py).

``job_runs`` makes jobs visible (``/jobs``, ``medcrypt-bot jobs list``): one row per
run with its trigger, outcome and PHI-free counts, because "the job ran" must be
checkable by an admin without reading logs. A scheduled run (and the start-up catch-up)
also names its *slot* - the scheduled fire time it stands for - and ``(job, slot)`` is
unique: a slot runs once across every replica, a run killed half-way is resumed in its
own row, and a catch-up skips slots that completed (issue 18, ADR 0032). Manual and
chat runs have no slot (NULL, never equal to another).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Float,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base

JOB_OUTCOMES = ("running", "ok", "failed")
JOB_TRIGGERS = ("schedule", "startup", "manual", "chat")

class ScheduledJob(Base):
    """One persistent scheduler job: plain columns, nothing executable."""

    __tablename__ = "scheduler_jobs"

    #: APScheduler's job id ("rotation", "shred_sweep"); 191 as in APScheduler's table.
    id: Mapped[str] = mapped_column(String(191), primary_key=True)
    #: ``module:function``; rebuilt only when on the allow-list of the bot's job functions.
    func_ref: Mapped[str] = mapped_column(String(128))
    #: JSON trigger spec (storage/triggerspec.py): cron fields or an interval.
    trigger: Mapped[str] = mapped_column(String(1024))
    #: JSON list of positional arguments (strings, numbers, booleans only).
    args: Mapped[str] = mapped_column(String(1024))
    #: JSON of the per-job options: name, executor, coalesce, misfire grace, max instances.
    options: Mapped[str] = mapped_column(String(1024))
    #: POSIX seconds of the next fire time; NULL while paused or refused. The due-job
    #: query of every scheduler wake-up filters on it.
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)


class JobRun(Base):
    """One execution of a scheduled job: when, why, how it ended and what it did."""

    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint(f"outcome IN {JOB_OUTCOMES!r}", name="outcome"),
        CheckConstraint(f"trigger IN {JOB_TRIGGERS!r}", name="trigger"),
        Index(None, "job", "started_at"),
        Index("uq_job_runs_job_slot", "job", "slot", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: "rotation" or "shred_sweep" (or "shred_pairing", "erasure" for on-demand runs).
    job: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(16))
    #: The scheduled fire time this run stands for (scheduled and start-up runs only).
    slot: Mapped[datetime | None]
    #: The instant the job reasoned about (the injected clock, may be time-travelled).
    as_of: Mapped[datetime]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    #: JSON of counts only ({"epochs_created": 3, ...}); never ids, names or tokens.
    summary: Mapped[str] = mapped_column(String(512), default="{}")
    #: Exception class name on failure (messages may be long; the class says enough).
    error: Mapped[str | None] = mapped_column(String(128))
